//! Which registrations an app runs and in which order: its selection, the plan of a start, and
//! the registry that keeps what was registered by hand.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{RegisterError, StartupError, StartupErrorKind};
use crate::kind::Kind;
use crate::name::Name;
use crate::options::TaskOptions;
use crate::panic::catching;
use crate::registration::{collected, Entry, Order, Prepare, RegistrationInfo};
use crate::report::Report;

/// Which link-time registrations an app runs.
#[derive(Clone)]
pub(crate) enum Selection {
    All,
    None,
    Module(String),
    Filter(Arc<dyn Fn(&RegistrationInfo<'_>) -> bool + Send + Sync>),
}

impl Selection {
    /// Whether the app runs the registration; `Err` with the panic's message if the user's
    /// filter panicked.
    fn selects(&self, info: &RegistrationInfo<'_>) -> Result<bool, String> {
        match self {
            Selection::All => Ok(true),
            Selection::None => Ok(false),
            Selection::Module(prefix) => Ok(info.is_within(prefix)),
            Selection::Filter(filter) => catching(|| filter(info)),
        }
    }
}

/// What a start runs, in order: contexts in setup order, tasks in start order. The entries
/// registered by hand are shared with the registry, not copied.
pub(crate) struct Plan {
    linked: ByKind,
    by_hand: Arc<ByKind>,
}

/// Entries split by kind, each in its order.
#[derive(Clone, Default)]
pub(crate) struct ByKind {
    contexts: Vec<Entry>,
    tasks: Vec<Entry>,
}

impl ByKind {
    fn push(&mut self, entry: Entry) {
        match entry.kind {
            Kind::Context => self.contexts.push(entry),
            Kind::Task => self.tasks.push(entry),
        }
    }

    fn len(&self) -> usize {
        self.contexts.len() + self.tasks.len()
    }
}

impl Plan {
    /// Contexts, in setup order before state needs are taken into account.
    pub(crate) fn contexts(&self) -> impl Iterator<Item = &Entry> {
        self.linked.contexts.iter().chain(&self.by_hand.contexts)
    }

    pub(crate) fn context_count(&self) -> usize {
        self.linked.contexts.len() + self.by_hand.contexts.len()
    }

    /// Tasks, in start order.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = &Entry> {
        self.linked.tasks.iter().chain(&self.by_hand.tasks)
    }

    /// Task `index`, in start order.
    pub(crate) fn task(&self, index: usize) -> &Entry {
        let linked = self.linked.tasks.len();
        if index < linked {
            &self.linked.tasks[index]
        } else {
            &self.by_hand.tasks[index - linked]
        }
    }

    pub(crate) fn task_count(&self) -> usize {
        self.linked.tasks.len() + self.by_hand.tasks.len()
    }
}

pub(crate) struct Registry {
    selection: Selection,
    /// Registered by hand, in registration order.
    by_hand: Arc<ByKind>,
    /// The names registered by hand, to refuse a second registration under one.
    by_hand_names: HashSet<Name>,
    running: bool,
    /// Built at the first start, and again after a registration by hand.
    plan: Option<Arc<Plan>>,
}

impl Registry {
    pub(crate) fn new(selection: Selection) -> Self {
        Registry {
            selection,
            by_hand: Arc::default(),
            by_hand_names: HashSet::new(),
            running: false,
            plan: None,
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running
    }

    /// Marks the app running and returns what to start.
    pub(crate) fn begin_run(&mut self) -> Result<Arc<Plan>, StartupError> {
        if self.running {
            return Err(StartupError::new(
                StartupErrorKind::AlreadyRunning,
                Report::default(),
            ));
        }
        let plan = match &self.plan {
            Some(plan) => plan.clone(),
            None => {
                let plan = self.build_plan().map_err(|message| {
                    StartupError::new(
                        StartupErrorKind::SelectionPanicked { message },
                        Report::default(),
                    )
                })?;
                let plan = Arc::new(plan);
                self.plan = Some(plan.clone());
                plan
            }
        };
        self.running = true;
        Ok(plan)
    }

    pub(crate) fn end_run(&mut self) {
        self.running = false;
    }

    fn build_plan(&self) -> Result<Plan, String> {
        let mut any_linked = false;
        let mut entries: Vec<Entry> = Vec::new();
        for registration in collected() {
            any_linked = true;
            if self.selection.selects(&registration.info())? {
                entries.push(registration.entry());
            }
        }
        if entries.is_empty() && self.by_hand.len() == 0 {
            if any_linked {
                tracing::warn!("this app's selection matched none of the lifespan tasks and contexts linked into the program: it runs nothing");
            } else {
                tracing::warn!("no lifespan tasks or contexts were registered: the link-time collection found none (it does not run on every target) and none were registered by hand");
            }
        }
        // Never the link-time iteration order: the source order within a module, modules by path.
        entries.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        let mut linked = ByKind::default();
        for entry in entries {
            linked.push(entry);
        }
        Ok(Plan {
            linked,
            by_hand: self.by_hand.clone(),
        })
    }

    /// Adds a task or context registered by hand, under a name not taken yet.
    pub(crate) fn register(
        &mut self,
        kind: Kind,
        name: Name,
        prepare: Prepare,
        options: TaskOptions,
    ) -> Result<(), RegisterError> {
        if self.running {
            return Err(RegisterError::AlreadyStarted { kind, name });
        }
        let mut taken = self.by_hand_names.contains(&name);
        for registration in collected().filter(|r| name == r.info().name) {
            if taken {
                break;
            }
            taken = self
                .selection
                .selects(&registration.info())
                .map_err(|message| RegisterError::SelectionPanicked {
                    kind,
                    name: name.clone(),
                    message,
                })?;
        }
        if taken {
            return Err(RegisterError::Duplicate { kind, name });
        }
        let order = Order::Registered(self.by_hand.len() as u64);
        self.by_hand_names.insert(name.clone());
        // Copies the entries only if a plan built before still shares them.
        Arc::make_mut(&mut self.by_hand).push(Entry {
            kind,
            name,
            order,
            prepare,
            options,
        });
        self.plan = None;
        Ok(())
    }
}
