//! Fault injection: makes chosen system calls fail, or move fewer bytes
//! than asked, at chosen points, so that callers (zcio's own tests among
//! them) can prove they lose and duplicate nothing when the kernel says
//! EAGAIN, EINTR, ENOSYS or EINVAL, or returns a short count.
//!
//! Rules come from `add` or, for programs that cannot be changed, from the
//! `ZCIO_FAULTS` environment variable, read once. Once any fault function
//! has been called, every wrapped call is counted whether or not a rule is
//! set, so a test can first count the calls a copy makes and then inject a
//! fault at each of them. Until then the system call wrappers pay one
//! relaxed load, not a shared counter update.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, Once};

use crate::error::Error;

/// A system call that faults can be injected into. The numbers are the C
/// API's `ZCIO_FAULT_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Call {
    Sendfile = 1,
    Splice = 2,
    Tee = 3,
    CopyFileRange = 4,
    Read = 5,
    Write = 6,
}

const CALLS: [(Call, &str); 6] = [
    (Call::Sendfile, "sendfile"),
    (Call::Splice, "splice"),
    (Call::Tee, "tee"),
    (Call::CopyFileRange, "copy_file_range"),
    (Call::Read, "read"),
    (Call::Write, "write"),
];

impl Call {
    pub fn from_number(number: u32) -> Option<Call> {
        CALLS
            .iter()
            .map(|(call, _)| *call)
            .find(|call| *call as u32 == number)
    }
}

/// What an injected fault does to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The call is not made and fails with this errno.
    Fail(i32),
    /// The call is made for at most this many bytes (at least 1).
    Short(usize),
}

/// Inject `effect` into `times` calls of `call`, starting after the first
/// `after` of them (counted since the last `clear`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub call: Call,
    pub after: u64,
    pub times: u32,
    pub effect: Effect,
}

/// At most this many rules at once.
const MAX_RULES: usize = 64;

struct Armed {
    rule: Rule,
    fired: u32,
}

static ANY_RULE: AtomicBool = AtomicBool::new(false);
static COUNTING: AtomicBool = AtomicBool::new(false);
static RULES: Mutex<Vec<Armed>> = Mutex::new(Vec::new());
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static SEEN: [AtomicU64; 7] = [ZERO; 7];
static FROM_ENV: Once = Once::new();

fn rules() -> std::sync::MutexGuard<'static, Vec<Armed>> {
    RULES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds a rule; `Error::Os(ENOSPC)` past the limit.
pub fn add(rule: Rule) -> Result<(), Error> {
    FROM_ENV.call_once(load_env);
    COUNTING.store(true, Relaxed);
    let mut rules = rules();
    if rules.len() >= MAX_RULES {
        return Err(Error::Os(libc::ENOSPC));
    }
    rules.push(Armed { rule, fired: 0 });
    ANY_RULE.store(true, Relaxed);
    Ok(())
}

/// Removes every rule (those from the environment too) and restarts the
/// call counts.
pub fn clear() {
    FROM_ENV.call_once(load_env);
    COUNTING.store(true, Relaxed);
    rules().clear();
    ANY_RULE.store(false, Relaxed);
    SEEN.iter().for_each(|seen| seen.store(0, Relaxed));
}

/// How many calls of `call` were made since the last `clear` (counting
/// starts with the first call of any fault function).
pub fn seen(call: Call) -> u64 {
    COUNTING.store(true, Relaxed);
    SEEN[call as usize].load(Relaxed)
}

/// Counts a call about to be made and returns the fault to inject, if a
/// rule fires.
pub(crate) fn check(call: Call) -> Option<Effect> {
    FROM_ENV.call_once(load_env);
    if !COUNTING.load(Relaxed) {
        return None;
    }
    let index = SEEN[call as usize].fetch_add(1, Relaxed);
    if !ANY_RULE.load(Relaxed) {
        return None;
    }
    let mut rules = rules();
    let armed = rules
        .iter_mut()
        .find(|a| a.rule.call == call && index >= a.rule.after && a.fired < a.rule.times.max(1))?;
    armed.fired += 1;
    Some(armed.rule.effect)
}

/// Reads `ZCIO_FAULTS`: comma-separated rules `CALL[@AFTER][xTIMES]=RESULT`,
/// where CALL is a system call's name, RESULT an errno name (`EAGAIN`) or
/// `short:N`. A rule that does not parse is ignored: the library prints
/// nothing; `zcio_fault_count` shows whether a rule is in force.
fn load_env() {
    let Ok(spec) = std::env::var("ZCIO_FAULTS") else {
        return;
    };
    let parsed: Vec<Rule> = spec
        .split(',')
        .filter_map(|item| parse_rule(item.trim()))
        .collect();
    if !parsed.is_empty() {
        rules().extend(
            parsed
                .into_iter()
                .take(MAX_RULES)
                .map(|rule| Armed { rule, fired: 0 }),
        );
        ANY_RULE.store(true, Relaxed);
        COUNTING.store(true, Relaxed);
    }
}

fn parse_rule(item: &str) -> Option<Rule> {
    let (target, result) = item.split_once('=')?;
    let (target, times) = match target.split_once('x') {
        Some((target, times)) => (target, times.parse().ok()?),
        None => (target, 1),
    };
    let (name, after) = match target.split_once('@') {
        Some((name, after)) => (name, after.parse().ok()?),
        None => (target, 0),
    };
    let call = CALLS.iter().find(|(_, n)| *n == name)?.0;
    let effect = match result.strip_prefix("short:") {
        Some(n) => Effect::Short(n.parse().ok()?),
        None => Effect::Fail(errno_by_name(result)?),
    };
    Some(Rule {
        call,
        after,
        times,
        effect,
    })
}

fn errno_by_name(name: &str) -> Option<i32> {
    (1..4096).find(|&errno| {
        crate::sys::errno_name(errno).is_some_and(|n| n.to_bytes() == name.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_the_environment_syntax() {
        let rule = parse_rule("splice@3x2=EAGAIN").unwrap();
        assert_eq!(
            rule,
            Rule {
                call: Call::Splice,
                after: 3,
                times: 2,
                effect: Effect::Fail(libc::EAGAIN)
            }
        );
        let rule = parse_rule("sendfile=short:100").unwrap();
        assert_eq!(
            rule,
            Rule {
                call: Call::Sendfile,
                after: 0,
                times: 1,
                effect: Effect::Short(100)
            }
        );
        assert_eq!(
            parse_rule("copy_file_range@0=EXDEV").unwrap().effect,
            Effect::Fail(libc::EXDEV)
        );
        for bad in [
            "",
            "splice",
            "nosuch=EAGAIN",
            "splice=ENOTANERRNO",
            "read@x=EIO",
            "write=short:",
        ] {
            assert_eq!(parse_rule(bad), None, "{bad:?}");
        }
    }
}
