//! keepalived's `genhash`, as `baton genhash` runs it:
//! `cargo run -p baton-check --example genhash -- -s 10.0.0.21 -p 80 -u /`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "genhash",
    about = "The MD5 digest of a page, for HTTP_GET's digest"
)]
struct Cli {
    #[command(flatten)]
    args: baton_check::genhash::GenhashArgs,
}

fn main() {
    let cli = Cli::parse();
    let code = baton_check::genhash::run(
        &cli.args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
