//! User intents named in keymap files.
//!
//! A key resolves to an [`Action`]; `update` decides what the action means in the
//! current state. Names are the stable, kebab-case identifiers users write in
//! `keymap.toml` (`run = "apply-baseline"`), so renaming one is a breaking change.

use std::fmt;
use std::str::FromStr;

macro_rules! actions {
    ($( $variant:ident = $name:literal, $mutating:literal, $desc:literal; )*) => {
        /// Everything a key can be bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $( #[doc = $desc] $variant, )*
        }

        impl Action {
            /// Every action, in the order help lists them.
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];

            /// The identifier used in keymap files.
            pub fn name(self) -> &'static str {
                match self { $( Action::$variant => $name, )* }
            }

            /// One line for the help screen.
            pub fn description(self) -> &'static str {
                match self { $( Action::$variant => $desc, )* }
            }

            /// Whether the action changes the cluster (disabled in read-only mode).
            pub fn is_mutating(self) -> bool {
                match self { $( Action::$variant => $mutating, )* }
            }
        }

        impl FromStr for Action {
            type Err = UnknownAction;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(Action::$variant), )*
                    other => Err(UnknownAction(other.to_string())),
                }
            }
        }
    };
}

actions! {
    Noop = "noop", false, "Do nothing (unbinds a key)";
    Quit = "quit", false, "Quit tighten";
    Help = "help", false, "Show every key binding";
    Command = "command", false, "Command mode (:ns NAME, :ctx NAME, :theme NAME, :q)";
    Filter = "filter", false, "Filter namespaces by regex (/! inverts)";
    Back = "back", false, "Close, clear or go back one level";
    Up = "up", false, "Move up";
    Down = "down", false, "Move down";
    PageUp = "page-up", false, "Move up one page";
    PageDown = "page-down", false, "Move down one page";
    Top = "top", false, "Jump to the first row";
    Bottom = "bottom", false, "Jump to the last row";
    Open = "open", false, "Open: focus the detail pane, or view the selected policy's YAML";
    NextTab = "next-tab", false, "Next detail tab";
    PrevTab = "prev-tab", false, "Previous detail tab";
    TabDrops = "tab-drops", false, "Drops tab";
    TabPolicies = "tab-policies", false, "Policies tab";
    TabFlows = "tab-flows", false, "Flows tab";
    TabGate = "tab-gate", false, "Gate tab";
    TabLog = "tab-log", false, "Log tab";
    SortName = "sort-name", false, "Sort by name (again: reverse)";
    SortTier = "sort-tier", false, "Sort by tier (again: reverse)";
    SortPhase = "sort-phase", false, "Sort by phase (again: reverse)";
    SortPolicies = "sort-policies", false, "Sort by number of policies (again: reverse)";
    SortDrops = "sort-drops", false, "Sort by drops per minute (again: reverse)";
    SortGate = "sort-gate", false, "Sort by gate status (again: reverse)";
    CycleVerdict = "cycle-verdict", false, "Flows: cycle the verdict filter (all, dropped, forwarded, audit)";
    TogglePause = "toggle-pause", false, "Flows: pause or resume the live tail";
    CycleWindow = "cycle-window", false, "Drops: cycle the window counted over (1m, 5m, 1h)";
    ToggleQueries = "toggle-queries", false, "Gate: show or hide the Prometheus queries behind the evidence";
    Observe = "observe", true, "Start observing the namespace (also ends a carve-out)";
    ApplyBaseline = "apply-baseline", true, "Apply the golden baseline allows";
    StageDefaultDeny = "stage-default-deny", true, "Stage the default-deny (Audit: present, not enforced)";
    Enforce = "enforce", true, "Enforce the staged default-deny";
    RollbackDefaultDeny = "rollback-default-deny", true, "Partial rollback: remove only the default-deny";
    RollbackNamespace = "rollback-namespace", true, "Namespace rollback: remove every policy of the namespace";
    CarveOut = "carve-out", true, "Carve the namespace out of the rollout, with a reason";
    Restore = "restore", true, "Restore the namespace's last backup";
    ApplySuggestions = "apply-suggestions", true, "Apply suggested allows for what the namespace drops (or would drop once enforced)";
    ResumeGitOps = "resume-gitops", true, "Resume the Flux Kustomizations and Argo CD Applications a rollback paused";
    Adopt = "adopt", true, "Adopt a rollout tighten did not start: record intent for the phase its policies show";
    ToggleOwnerPause = "toggle-owner-pause", false, "Dialog: include or leave out pausing the GitOps owner";
    FocusNext = "focus-next", false, "Dialog: next button";
    FocusPrev = "focus-prev", false, "Dialog: previous button";
    Submit = "submit", false, "Dialog or input: activate / accept";
    Cancel = "cancel", false, "Dialog or input: cancel";
}

impl Action {
    /// The rollout step a mutating action starts.
    pub fn rollout(self) -> Option<crate::rollout::RolloutAction> {
        use crate::rollout::RolloutAction as R;
        Some(match self {
            Action::Observe => R::Observe,
            Action::ApplyBaseline => R::ApplyBaseline,
            Action::StageDefaultDeny => R::StageDefaultDeny,
            Action::Enforce => R::Enforce,
            Action::RollbackDefaultDeny => R::RollbackDefaultDeny,
            Action::RollbackNamespace => R::RollbackNamespace,
            Action::CarveOut => R::CarveOut,
            Action::Restore => R::Restore,
            Action::ApplySuggestions => R::ApplySuggestions,
            Action::ResumeGitOps => R::ResumeOwners,
            Action::Adopt => R::Adopt,
            _ => return None,
        })
    }
}

/// A keymap named an action that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown action {:?}", self.0)
    }
}

impl std::error::Error for UnknownAction {}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for action in Action::ALL {
            assert_eq!(action.name().parse::<Action>(), Ok(*action));
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        assert_eq!(
            "delete-everything".parse::<Action>(),
            Err(UnknownAction("delete-everything".into()))
        );
    }

    #[test]
    fn only_cluster_changes_are_mutating() {
        let mutating: Vec<_> = Action::ALL.iter().filter(|a| a.is_mutating()).collect();
        assert_eq!(mutating.len(), 11);
        assert!(!Action::Help.is_mutating());
        assert!(Action::Adopt.is_mutating());
        assert!(Action::ResumeGitOps.is_mutating());
        // Toggling a pause in the dialog changes the plan, not the cluster.
        assert!(!Action::ToggleOwnerPause.is_mutating());
        assert!(Action::RollbackNamespace.is_mutating());
    }
}
