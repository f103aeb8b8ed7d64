use clap::Parser;

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
