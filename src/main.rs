use clap::Parser;

// Imports allocate a few small strings per cell on several threads; glibc's allocator spent a
// fifth of an import's time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = double_random::cli::Cli::parse();
    match double_random::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
