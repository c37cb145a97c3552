//! The generator on its own: the same seed and flags give the same bytes, more sales do not
//! change the world, memory does not grow with the sales, stores come in 1 + N + n, every line
//! passes the form checks, sales run in time order, and the hunted share follows the flag.
//! (Whether the checker agrees with the truth is tests/gen.rs at the repository root.)

use chl_gen::{Config, Generator, Summary};
use chl_model::{Event, Submission};

fn generate(config: &Config) -> (Vec<u8>, Vec<u8>, Summary) {
    let generator = Generator::new(config.clone()).expect("valid flags");
    let (mut history, mut truth) = (Vec::new(), Vec::new());
    let summary = generator.write(&mut history, Some(&mut truth), &mut |_| {}).expect("write to memory");
    (history, truth, summary)
}

fn config(seed: u64, sales: u64) -> Config {
    Config { seed, sales, brands: 6, ..Config::default() }
}

#[test]
fn the_same_seed_and_flags_give_the_same_bytes() {
    let a = generate(&config(11, 20_000));
    let b = generate(&config(11, 20_000));
    assert!(a.0 == b.0 && a.1 == b.1, "two runs differ");
    let c = generate(&config(12, 20_000));
    assert!(a.0 != c.0 && a.1 != c.1, "another seed gives the same history");
}

#[test]
fn more_sales_leave_the_world_as_it_was() {
    // The world's events (everything but sales, refunds and disputes) do not depend on --sales.
    let world = |sales| {
        let (history, ..) = generate(&config(3, sales));
        String::from_utf8(history)
            .unwrap()
            .lines()
            .filter(|l| {
                !["sale_recorded", "sale_refunded", "dispute_opened", "dispute_closed"]
                    .iter()
                    .any(|t| l.contains(&format!("\"type\":\"{t}\"")))
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let few = world(1_000);
    assert!(few.len() > 500, "a world of six brands has hundreds of events");
    assert_eq!(few, world(30_000));
}

#[test]
fn memory_does_not_grow_with_the_sales() {
    let small = generate(&config(5, 2_000)).2;
    let large = generate(&config(5, 300_000)).2;
    assert_eq!(large.sales, 300_000);
    assert_eq!(
        small.footprint, large.footprint,
        "the generator's world and buffers are the same size whatever the number of sales"
    );
    assert!(large.footprint < 64 << 20, "{} bytes for six brands", large.footprint);
}

#[test]
fn stores_come_in_one_plus_n_plus_n() {
    let generator =
        Generator::new(Config { brands: 200, tmall_stores: 6, taobao_sellers: 40, ..Config::default() })
            .unwrap();
    let shape = generator.shape();
    assert_eq!(shape.brands, 200);
    assert!(shape.per_brand.iter().all(|(flagship, _, _)| *flagship == 1), "one flagship per brand");
    let mean = |f: fn(&(usize, usize, usize)) -> usize| {
        shape.per_brand.iter().map(f).sum::<usize>() as f64 / shape.per_brand.len() as f64
    };
    let tmall = mean(|b| b.1);
    let taobao = mean(|b| b.2);
    assert!((5.0..7.0).contains(&tmall), "N: {tmall} Tmall stores per brand, meant 6");
    // n authorized sellers, plus about n/8 grey sellers and a Tmall operator's Taobao shop.
    assert!((40.0..50.0).contains(&taobao), "n: {taobao} Taobao stores per brand, meant 40 and the rest");
    assert!(shape.per_brand.iter().all(|b| b.1 < b.2), "the long tail is on Taobao");
}

#[test]
fn every_line_passes_the_form_checks_and_sales_run_in_time_order() {
    let (history, truth, summary) = generate(&Config { anomaly_rate: 0.3, ..config(9, 20_000) });
    let text = String::from_utf8(history).unwrap();
    let mut last_sale = None;
    let mut sales = 0;
    let end = chl_gen::DEFAULT_END * 1_000_000;
    for (n, line) in text.lines().enumerate() {
        let submission =
            Submission::parse_json(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", n + 1));
        let at = submission.effective_at.expect("every line has its effective_at").unix_micros();
        assert!(at <= end + 25 * 86_400 * 1_000_000, "line {}: after the history's end: {line}", n + 1);
        if let Event::SaleRecorded(_) = submission.event {
            assert!(last_sale.is_none_or(|t| t <= at), "line {}: a sale before the one above it", n + 1);
            assert!(at < end, "line {}: a sale after --end", n + 1);
            last_sale = Some(at);
            sales += 1;
        }
    }
    assert_eq!(sales, 20_000);
    assert_eq!(summary.lines as usize, text.lines().count());
    assert_eq!(String::from_utf8(truth).unwrap().lines().count(), 20_000, "one truth line per sale");
}

#[test]
fn the_hunted_share_follows_the_flag() {
    for rate in [0.0, 0.03, 0.2] {
        let summary = generate(&Config { anomaly_rate: rate, brands: 20, ..config(21, 50_000) }).2;
        let share = summary.hunted as f64 / summary.sales as f64;
        assert!((share - rate).abs() < 0.01 + rate * 0.1, "anomaly rate {rate}: {share} of sales hunted");
        assert_eq!(summary.verdicts.iter().sum::<u64>(), summary.sales);
    }
}

#[test]
fn bad_flags_are_refused() {
    for bad in [
        Config { anomaly_rate: -0.1, ..Config::default() },
        Config { refund_rate: 2.0, ..Config::default() },
        Config { brands: 0, ..Config::default() },
        Config { years: 0, ..Config::default() },
        Config { years: 31, ..Config::default() },
    ] {
        assert!(Generator::new(bad.clone()).is_err(), "{bad:?}");
    }
}

#[test]
fn a_full_queue_changes_the_order_of_lines_never_what_they_say() {
    let roomy = Config { anomaly_rate: 0.5, dispute_rate: 1.0, refund_rate: 0.5, ..config(17, 5_000) };
    let tight = Config { pending_capacity: 4, ..roomy.clone() };
    let (a, truth_a, _) = generate(&roomy);
    let (b, truth_b, _) = generate(&tight);
    assert_eq!(truth_a, truth_b, "the truth does not depend on when refunds and disputes are written");
    assert_ne!(a, b, "with room for only four, refunds and disputes are written early");
    let mut lines_a: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let mut lines_b: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    lines_a.sort_unstable();
    lines_b.sort_unstable();
    assert!(lines_a == lines_b, "the same lines, in another order");
    // Each refund and dispute still comes after its sale, each closing after its opening.
    let text = String::from_utf8(b).unwrap();
    let mut written = std::collections::HashSet::new();
    for line in text.lines() {
        let submission = Submission::parse_json(line).expect("form");
        match submission.event {
            Event::SaleRecorded(e) => assert!(written.insert(e.order.to_string())),
            Event::SaleRefunded(e) => {
                assert!(written.contains(e.order.as_str()), "refund before sale: {line}")
            }
            Event::DisputeOpened(e) => {
                assert!(written.contains(e.order.as_str()), "dispute before sale: {line}");
                written.insert(e.dispute.to_string());
            }
            Event::DisputeClosed(e) => {
                assert!(written.contains(e.dispute.as_str()), "closed before opened: {line}")
            }
            _ => {}
        }
    }
}
