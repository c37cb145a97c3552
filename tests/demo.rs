//! `chl demo`: the README's first command builds a ledger from a generated history, verifies
//! it and shows the cases it promises.

mod common;

use common::*;

#[test]
fn the_demo_builds_verifies_and_shows_an_authentic_a_counterfeit_looking_and_a_backdated_sale() {
    let scratch = tempdir();
    let dir = scratch.path().join("demo");
    let run = chl_bare(&["--data", dir.to_str().unwrap(), "demo", "--no-serve"]).ok();
    for expected in [
        "$ chl verify",
        "every hash and link holds",
        ": authentic",
        "reasons:     no_grant",
        "disputed",
        "grant_recorded_after_sale",
        "$ chl channel --brand",
    ] {
        assert!(run.stdout.contains(expected), "{expected:?} missing from:\n{}", run.stdout);
    }
    // Run again on the same directory: the ledger is reused, the same cases are found.
    let again = chl_bare(&["--data", dir.to_str().unwrap(), "demo", "--no-serve"]).ok();
    assert!(!again.stdout.contains("$ chl init"), "{}", again.stdout);
    assert!(again.stdout.contains("grant_recorded_after_sale"), "{}", again.stdout);
}
