//! Which registrations an app runs and in which order: its selection, the plan of a start, and
//! the registry that keeps what was registered by hand.

use std::sync::Arc;

use crate::base::kind::Kind;
use crate::base::name::{Name, NameIndex};
use crate::base::panic::catching;
use crate::registration::entry::{DynPrepare, Entry, RegistrationInfo};
use crate::registration::linked::Linked;
use crate::report::errors::{RegisterError, StartupError, StartupErrorKind};
use crate::report::outcome::Report;
use crate::schedules::options::TaskOptions;

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
    linked: Picked,
    by_hand: Arc<ByKind>,
}

/// The link-time entries a plan runs, split by kind, each in its order; the entries are the
/// process's own (see [`Linked`]).
#[derive(Default)]
struct Picked {
    contexts: Vec<&'static Entry>,
    tasks: Vec<&'static Entry>,
}

impl Picked {
    /// Adds `entries`, each to the list of its kind, in order.
    fn extend(&mut self, entries: &'static [Entry]) {
        self.tasks.reserve(entries.len());
        for entry in entries {
            match entry.kind {
                Kind::Context => self.contexts.push(entry),
                Kind::Task => self.tasks.push(entry),
            }
        }
    }
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

    /// What [`NameIndex`] keeps of the entry that `push` adds next: its position, with the top
    /// bit set for a task.
    fn next_code(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Context => self.contexts.len() as u32,
            Kind::Task => self.tasks.len() as u32 | TASK_BIT,
        }
    }

    /// The name of the entry of `code` (see [`next_code`](Self::next_code)).
    fn name_of(&self, code: u32) -> &str {
        let position = (code & !TASK_BIT) as usize;
        if code & TASK_BIT == 0 {
            &self.contexts[position].name
        } else {
            &self.tasks[position].name
        }
    }
}

/// The bit of a [code](ByKind::next_code) that says the entry is a task.
const TASK_BIT: u32 = 1 << 31;

impl Plan {
    /// Contexts, in setup order before state needs are taken into account.
    pub(crate) fn contexts(&self) -> impl Iterator<Item = &Entry> {
        let linked = self.linked.contexts.iter().copied();
        linked.chain(&self.by_hand.contexts)
    }

    pub(crate) fn context_count(&self) -> usize {
        self.linked.contexts.len() + self.by_hand.contexts.len()
    }

    /// Tasks, in start order.
    pub(crate) fn tasks(&self) -> impl Iterator<Item = &Entry> {
        let linked = self.linked.tasks.iter().copied();
        linked.chain(&self.by_hand.tasks)
    }

    /// Task `index`, in start order.
    pub(crate) fn task(&self, index: usize) -> &Entry {
        let linked = self.linked.tasks.len();
        if index < linked {
            self.linked.tasks[index]
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
    names: NameIndex,
    running: bool,
    /// Built at the first start, and again after a registration by hand.
    plan: Option<Arc<Plan>>,
}

impl Registry {
    pub(crate) fn new(selection: Selection) -> Self {
        Registry {
            selection,
            by_hand: Arc::default(),
            names: NameIndex::default(),
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
        let plan = self.plan().map_err(|message| {
            StartupError::new(
                StartupErrorKind::SelectionPanicked { message },
                Report::default(),
            )
        })?;
        self.running = true;
        Ok(plan)
    }

    /// What a start would run now, built if it was not; `Err` with the panic's message if the
    /// app's selection filter panicked.
    pub(crate) fn plan(&mut self) -> Result<Arc<Plan>, String> {
        if let Some(plan) = &self.plan {
            return Ok(plan.clone());
        }
        let plan = Arc::new(self.build_plan()?);
        self.plan = Some(plan.clone());
        Ok(plan)
    }

    pub(crate) fn end_run(&mut self) {
        self.running = false;
    }

    fn build_plan(&mut self) -> Result<Plan, String> {
        let linked = Linked::get();
        let mut picked = Picked::default();
        match &self.selection {
            Selection::None => {}
            // No registration is read: the index has what a plan needs.
            Selection::All => picked.extend(linked.in_order()),
            // Decided per module, never per registration.
            Selection::Module(prefix) => {
                for module in linked.modules() {
                    let info = RegistrationInfo {
                        kind: Kind::Task,
                        name: "",
                        module_path: module.path,
                    };
                    if info.is_within(prefix) {
                        picked.extend(&linked.in_order()[module.entries.clone()]);
                    }
                }
            }
            Selection::Filter(_) => {
                for entry in linked.in_order() {
                    if let Some(registration) = entry.registration() {
                        if self.selection.selects(&registration.info())? {
                            picked.extend(std::slice::from_ref(entry));
                        }
                    }
                }
            }
        }
        if picked.contexts.is_empty() && picked.tasks.is_empty() && self.by_hand.len() == 0 {
            if linked.in_order().is_empty() {
                tracing::warn!("no lifespan tasks or contexts were registered: the link-time collection found none (it does not run on every target) and none were registered by hand");
            } else {
                tracing::warn!("this app's selection matched none of the lifespan tasks and contexts linked into the program: it runs nothing");
            }
        }
        // Registering by hand is over until the app stops: give back what growing kept spare.
        if let Some(by_hand) = Arc::get_mut(&mut self.by_hand) {
            by_hand.contexts.shrink_to_fit();
            by_hand.tasks.shrink_to_fit();
        }
        Ok(Plan {
            linked: picked,
            by_hand: self.by_hand.clone(),
        })
    }

    /// Adds a task or context registered by hand, under a name not taken yet.
    pub(crate) fn register(
        &mut self,
        kind: Kind,
        name: Name,
        prepare: DynPrepare,
        options: TaskOptions,
    ) -> Result<(), RegisterError> {
        if self.running {
            return Err(RegisterError::AlreadyStarted { kind, name });
        }
        if self.is_taken(kind, &name)? {
            return Err(RegisterError::Duplicate { kind, name });
        }
        let code = self.by_hand.next_code(kind);
        // Copies the entries only if a plan built before still shares them.
        let by_hand = Arc::make_mut(&mut self.by_hand);
        by_hand.push(Entry::by_hand(kind, name, prepare, options));
        self.names.insert(code, |code| by_hand.name_of(code));
        self.plan = None;
        Ok(())
    }

    /// Whether `name` is registered by hand already, or names a link-time registration that
    /// the app's selection selects.
    fn is_taken(&self, kind: Kind, name: &Name) -> Result<bool, RegisterError> {
        if self.names.contains(name, |code| self.by_hand.name_of(code)) {
            return Ok(true);
        }
        for registration in Linked::get().named(name) {
            let selected = self.selection.selects(&registration.info());
            let selected = selected.map_err(|message| RegisterError::SelectionPanicked {
                kind,
                name: name.clone(),
                message,
            })?;
            if selected {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
