//! SIGHUP: the file read again and, if it is sound, what becomes of each
//! check, by name.
//!
//! - **kept**, the same name and command: its state, streak and counters
//!   stay, and a run in flight is applied when it ends. A new interval,
//!   rise or fall applies from now ([`super::state::RiseFall::set_thresholds`]):
//!   they change when and how often results count, not what a result
//!   means.
//! - **kept, restarted**, the same name with another command: its state
//!   stays (what keepalived acts on does not flap), but its streak and
//!   counters start again as at start-up, and a run of the old command
//!   still in flight is not applied (it checked something else); the new
//!   command's first run waits for it to end (one run per check).
//! - **added**: as at start-up, from its state file if one is there, else
//!   down (fail closed), written at once.
//! - **removed**: its state file is deleted; a run in flight is dropped.
//!
//! The log line counts a restarted check as kept: `reloaded FILE: N checks
//! (A added, R removed, K kept)`, N = A + K. A new `state_dir` gets every
//! check's current state written into it; the old files stay where they
//! are, but for removed checks (keepalived still reads them until its own
//! configuration changes). The schedule is spread anew from the reload:
//! each check's next run falls within one interval of it.

use super::config::CheckSpec;

/// What a reload does with one check of the new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// No check of that name before.
    Added,
    /// The old check at this index, same command.
    Kept(usize),
    /// The old check at this index, another command.
    Restarted(usize),
}

/// A reload's plan: the fate of each new check (in the new file's order)
/// and the old checks removed (indices into the old list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    pub fates: Vec<Fate>,
    pub removed: Vec<usize>,
}

impl ReloadPlan {
    /// Old and new checks, by name (names are unique in a file).
    pub fn new<'a>(old: impl IntoIterator<Item = &'a CheckSpec>, new: &[CheckSpec]) -> ReloadPlan {
        let old: Vec<&CheckSpec> = old.into_iter().collect();
        let mut taken = vec![false; old.len()];
        let fates = new
            .iter()
            .map(|spec| match old.iter().position(|o| o.name == spec.name) {
                None => Fate::Added,
                Some(i) => {
                    taken[i] = true;
                    if old[i].command == spec.command {
                        Fate::Kept(i)
                    } else {
                        Fate::Restarted(i)
                    }
                }
            })
            .collect();
        let removed = (0..old.len()).filter(|&i| !taken[i]).collect();
        ReloadPlan { fates, removed }
    }

    pub fn added(&self) -> usize {
        self.fates.iter().filter(|f| **f == Fate::Added).count()
    }

    /// Kept, restarted included.
    pub fn kept(&self) -> usize {
        self.fates.len() - self.added()
    }
}

/// The log line of a reload that took.
pub fn reloaded_line(path: &std::path::Path, plan: &ReloadPlan) -> String {
    format!(
        "reloaded {}: {} ({} added, {} removed, {} kept)",
        path.display(),
        super::count_checks(plan.fates.len()),
        plan.added(),
        plan.removed.len(),
        plan.kept()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::ServeConfig;
    use std::path::Path;

    fn specs(checks: &[(&str, &str, &str)]) -> Vec<CheckSpec> {
        let mut toml = String::from("state_dir = \"/tmp\"\n");
        for (name, rs, extra) in checks {
            toml.push_str(&format!(
                "[[check]]\nname = \"{name}\"\ncommand = \"check_raw_tcp lo {rs} 203.0.113.10 80\"\n{extra}\n"
            ));
        }
        let lookup = |_: &str, _| Err(std::io::Error::other("no lookups"));
        ServeConfig::parse(Path::new("s.toml"), &toml, &lookup)
            .unwrap()
            .checks
    }

    #[test]
    fn names_decide_and_commands_restart() {
        let old = specs(&[
            ("a", "198.51.100.11", ""),
            ("b", "198.51.100.12", ""),
            ("c", "198.51.100.13", ""),
        ]);
        let new = specs(&[
            ("c", "198.51.100.13", "rise = 5\ninterval = \"5s\""),
            ("d", "198.51.100.14", ""),
            ("a", "198.51.100.21", ""),
        ]);
        let plan = ReloadPlan::new(&old, &new);
        assert_eq!(
            plan.fates,
            vec![Fate::Kept(2), Fate::Added, Fate::Restarted(0)]
        );
        assert_eq!(plan.removed, vec![1]);
        assert_eq!(
            reloaded_line(Path::new("/etc/s.toml"), &plan),
            "reloaded /etc/s.toml: 3 checks (1 added, 1 removed, 2 kept)"
        );
    }

    #[test]
    fn the_same_file_keeps_everything() {
        let old = specs(&[("a", "198.51.100.11", ""), ("b", "198.51.100.12", "")]);
        let plan = ReloadPlan::new(&old, &old.clone());
        assert_eq!(plan.fates, vec![Fate::Kept(0), Fate::Kept(1)]);
        assert!(plan.removed.is_empty());
        let gone = ReloadPlan::new(&old, &specs(&[("z", "198.51.100.11", "")]));
        assert_eq!(gone.fates, vec![Fate::Added]);
        assert_eq!(gone.removed, vec![0, 1]);
    }
}
