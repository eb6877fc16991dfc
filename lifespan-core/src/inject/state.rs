//! Typed state: values that contexts hand over at their yield point, and that tasks, later
//! contexts and HTTP handlers receive by type as [`State<T>`].
//!
//! Which context provides which type, and who needs it, is learnt when the arguments are
//! evaluated, before any setup runs; contexts are then set up in an order that puts every
//! provider before the contexts that need its state.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use crate::base::kind::Kind;
use crate::base::lock::lock;
use crate::base::name::Name;
use crate::report::errors::StartupErrorKind;

pub(crate) type Slot = Arc<OnceLock<Box<dyn Any + Send + Sync>>>;

/// The state of one start of the app: a slot per type, filled by the context that provides it.
#[derive(Default)]
pub(crate) struct StateMap {
    slots: Mutex<HashMap<TypeId, Slot>>,
}

impl StateMap {
    pub(crate) fn slot<T: 'static>(&self) -> Slot {
        let mut slots = lock(&self.slots);
        slots.entry(TypeId::of::<T>()).or_default().clone()
    }

    /// The value of type `T`, if a context has provided it.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let slots = lock(&self.slots);
        let slot = slots.get(&TypeId::of::<T>())?;
        slot.get()?;
        Some(State::new(slot.clone()))
    }
}

/// A value that a `#[lifespan_context]` provides at its yield point, received by type.
///
/// A context provides a `T` by taking a [`Yield<T>`](crate::Yield) and calling
/// [`ready_with`](crate::Yield::ready_with); a task, a context set up after it, or an HTTP
/// handler takes a `State<T>` parameter and reads the value through `Deref`. The app sets up the
/// provider before every context that needs its state, and starts tasks after every context.
///
/// ```
/// use lifespan_core::{lifespan_context, lifespan_task, State, Yield};
///
/// struct Pool {
///     url: String,
/// }
///
/// #[lifespan_context]
/// async fn database(lifespan: Yield<Pool>) {
///     let pool = Pool { url: "postgres://localhost/app".into() };
///     lifespan.ready_with(pool).await;
///     // close the pool ...
/// }
///
/// #[lifespan_task]
/// async fn report_pool(pool: State<Pool>) {
///     tracing::info!(url = %pool.url, "using the pool");
/// }
/// # fn main() {}
/// ```
///
/// A type that no context provides, or that two contexts provide, and contexts that need each
/// other's state, are startup errors reported before any setup runs. Each start of the app (a
/// reload included) builds the state anew.
pub struct State<T> {
    slot: Slot,
    _type: PhantomData<fn() -> T>,
}

impl<T: Send + Sync + 'static> State<T> {
    pub(crate) fn new(slot: Slot) -> Self {
        State {
            slot,
            _type: PhantomData,
        }
    }
}

impl<T: Send + Sync + 'static> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Providers are set up before whatever needs their state (see `order`), and a `State`
        // is only handed out through injection or `App::state`, which checks; so the slot is set.
        self.slot
            .get()
            .and_then(|value| value.downcast_ref::<T>())
            .expect("lifespan state is provided before anything that needs it runs")
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State {
            slot: self.slot.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: fmt::Debug + Send + Sync + 'static> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&**self).finish()
    }
}

/// A state type: its identity and its name, for errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateType {
    pub(crate) id: TypeId,
    pub(crate) name: &'static str,
}

impl StateType {
    pub(crate) fn of<T: 'static>() -> Self {
        StateType {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }
}

/// What one task or context needs and provides, recorded while its parameters are injected.
#[derive(Default)]
pub(crate) struct Deps {
    pub(crate) needs: Vec<StateType>,
    pub(crate) provides: Vec<StateType>,
}

/// A task or context that needs some state, for errors.
type Consumer = (Kind, Name);

/// The setup order of contexts that puts every provider first, ties broken by the given order.
/// `contexts` are in the given order; `tasks` only need.
pub(crate) fn order(
    contexts: &[(Name, &Deps)],
    tasks: &[(Name, &Deps)],
) -> Result<Vec<usize>, StartupErrorKind> {
    let mut providers: HashMap<TypeId, usize> = HashMap::new();
    for (index, (_, deps)) in contexts.iter().enumerate() {
        for provided in &deps.provides {
            if providers.contains_key(&provided.id) {
                let every: Vec<Name> = contexts
                    .iter()
                    .filter(|(_, deps)| deps.provides.iter().any(|p| p.id == provided.id))
                    .map(|(name, _)| name.clone())
                    .collect();
                return Err(StartupErrorKind::DuplicateState {
                    type_name: provided.name,
                    providers: every,
                });
            }
            providers.insert(provided.id, index);
        }
    }

    let mut missing: Vec<(StateType, Vec<Consumer>)> = Vec::new();
    let consumers = contexts
        .iter()
        .map(|c| (Kind::Context, c))
        .chain(tasks.iter().map(|t| (Kind::Task, t)));
    for (kind, (name, deps)) in consumers {
        for needed in deps.needs.iter().filter(|n| !providers.contains_key(&n.id)) {
            match missing.iter_mut().find(|(state, _)| state.id == needed.id) {
                Some((_, who)) => who.push((kind, name.clone())),
                None => missing.push((*needed, vec![(kind, name.clone())])),
            }
        }
    }
    if let Some((state, consumers)) = missing.into_iter().next() {
        return Err(StartupErrorKind::MissingState {
            type_name: state.name,
            consumers,
        });
    }

    // Kahn's algorithm, always taking the earliest context whose providers are all set up.
    let needs: Vec<BTreeSet<usize>> = contexts
        .iter()
        .map(|(_, deps)| deps.needs.iter().map(|n| providers[&n.id]).collect())
        .collect();
    let mut placed = vec![false; contexts.len()];
    let mut setup_order = Vec::with_capacity(contexts.len());
    while setup_order.len() < contexts.len() {
        let next = (0..contexts.len())
            .find(|&i| !placed[i] && needs[i].iter().all(|&provider| placed[provider]));
        let Some(next) = next else {
            let cycle = (0..contexts.len())
                .filter(|&i| !placed[i])
                .map(|i| {
                    let needed: Vec<String> = contexts[i]
                        .1
                        .needs
                        .iter()
                        .filter(|n| !placed[providers[&n.id]])
                        .map(|n| format!("`{}` from `{}`", n.name, contexts[providers[&n.id]].0))
                        .collect();
                    format!("`{}` needs {}", contexts[i].0, needed.join(" and "))
                })
                .collect();
            return Err(StartupErrorKind::StateCycle { cycle });
        };
        placed[next] = true;
        setup_order.push(next);
    }
    Ok(setup_order)
}
