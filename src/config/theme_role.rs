//! The semantic roles a theme assigns styles to.
//!
//! Widgets ask for a role ("this is a dropped verdict"), never for a colour, so
//! a theme can restyle everything (including colour-free monochrome) without
//! touching UI code. Role names are the keys of a theme's `[styles]` table.

use std::fmt;
use std::str::FromStr;

macro_rules! roles {
    ($( $variant:ident = $name:literal, $doc:literal; )*) => {
        /// A styled element of the UI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ThemeRole {
            $( #[doc = $doc] $variant, )*
        }

        impl ThemeRole {
            /// Every role, in the order themes list them.
            pub const ALL: &'static [ThemeRole] = &[ $( ThemeRole::$variant, )* ];

            /// The key used in theme files.
            pub fn name(self) -> &'static str {
                match self { $( ThemeRole::$variant => $name, )* }
            }

            /// What the role styles; for theme authors.
            pub fn description(self) -> &'static str {
                match self { $( ThemeRole::$variant => $doc, )* }
            }
        }

        impl FromStr for ThemeRole {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(ThemeRole::$variant), )*
                    other => Err(format!("unknown style role {other:?}")),
                }
            }
        }
    };
}

roles! {
    Text = "text", "Ordinary text";
    Muted = "muted", "Secondary text: timestamps, units, empty states";
    Title = "title", "Pane and dialog titles";
    Border = "border", "Borders of unfocused panes";
    BorderFocused = "border_focused", "Border of the focused pane";
    Header = "header", "Table column headers";
    Selection = "selection", "The selected row";
    TabActive = "tab_active", "The active detail tab";
    TabInactive = "tab_inactive", "Other detail tabs";
    StatusBar = "status_bar", "The bottom status line";
    HintKey = "hint_key", "Keys in the hint line";
    HintText = "hint_text", "Descriptions in the hint line";
    PhaseUnmanaged = "phase_unmanaged", "Phase: not managed by tighten";
    PhaseObserve = "phase_observe", "Phase: observing traffic";
    PhaseBaseline = "phase_baseline", "Phase: baseline allows applied";
    PhaseAudit = "phase_audit", "Phase: default-deny staged in audit mode";
    PhaseEnforced = "phase_enforced", "Phase: default-deny enforced";
    PhaseCarvedOut = "phase_carved_out", "Phase: carved out of the rollout";
    PhaseRolledBack = "phase_rolled_back", "Phase: rolled back";
    Drift = "drift", "Cluster state differs from what tighten applied";
    VerdictForwarded = "verdict_forwarded", "Flow verdict: forwarded";
    VerdictDropped = "verdict_dropped", "Flow verdict: dropped";
    VerdictAudit = "verdict_audit", "Flow verdict: would be dropped (audit)";
    VerdictOther = "verdict_other", "Flow verdict: anything else";
    GatePass = "gate_pass", "Gate check passed";
    GateFail = "gate_fail", "Gate check failed";
    GatePending = "gate_pending", "Gate check still soaking or unknown";
    Danger = "danger", "Destructive actions and errors";
    Warning = "warning", "Warnings";
    Ok = "ok", "Success messages";
    Info = "info", "Informational messages";
    Protected = "protected", "Protected namespaces";
    Sparkline = "sparkline", "Drop-rate sparklines";
    DialogBorder = "dialog_border", "Border of confirmation dialogs";
    Button = "button", "Dialog buttons";
    ButtonFocused = "button_focused", "The focused dialog button";
    ButtonDisabled = "button_disabled", "A button that cannot be used (read-only mode)";
    Input = "input", "Text input fields";
    ReadonlyBadge = "readonly_badge", "The READ-ONLY badge";
    ContextBadge = "context_badge", "The kube context badge";
}

impl fmt::Display for ThemeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_snake_case() {
        assert_eq!(ThemeRole::ALL.len(), 40);
        for role in ThemeRole::ALL {
            assert_eq!(role.name().parse::<ThemeRole>(), Ok(*role));
            assert!(role.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
