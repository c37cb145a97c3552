//! Progress bars on a terminal, nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar on stderr when it is a terminal; hidden otherwise (scripts, CI, pipes).
pub fn bar(total: Option<u64>, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        format!("{{spinner}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)")
    } else {
        format!("{{spinner}} {{human_pos}} {unit} ({{per_sec}})")
    };
    if unit == "bytes" {
        let template = if total.is_some() {
            "{spinner} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)"
        } else {
            "{spinner} {bytes} ({bytes_per_sec})"
        };
        bar.set_style(ProgressStyle::with_template(template).unwrap().progress_chars("=> "));
    } else {
        bar.set_style(ProgressStyle::with_template(&template).unwrap().progress_chars("=> "));
    }
    bar
}
