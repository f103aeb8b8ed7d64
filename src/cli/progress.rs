//! The import's progress bar: the service reports progress through `Progress`, the terminal is
//! the CLI's.

use crate::library::Kind;
use crate::service::imports::Progress;

/// The import's progress bar, on a terminal only.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new(show: bool, kind: Kind) -> Self {
        use std::io::IsTerminal;
        Self((show && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {percent}% (eta {eta})",
                )
                .expect("valid template"),
            );
            bar.set_message(format!("importing {}", kind.as_str()));
            bar
        }))
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let (Some(bar), true) = (&self.0, total > 0) {
            bar.set_length(total);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn advance(&self, pos: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(pos);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
