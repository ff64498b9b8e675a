//! Writes baton's manual pages and shell completions from its command line, for
//! scripts/package: `cargo run -p baton --example gen_docs -- OUT_DIR` makes
//! `OUT_DIR/man/baton.8` (and one page per subcommand, `baton-check.8` …) and
//! `OUT_DIR/completions/{baton.bash,_baton,baton.fish}`.

use std::path::PathBuf;

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/package"));
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let cmd = baton::cli::Cli::command()
        .name("baton")
        .version(env!("CARGO_PKG_VERSION"))
        .after_long_help(
            "Signals: SIGHUP reloads (a configuration with errors is refused and the running \
             one kept); SIGTERM stops (masters send priority 0); SIGUSR1, SIGUSR2 and \
             SIGRTMIN+2 write keepalived's dumps (keepalived.data, .stats, .json) into \
             $TMPDIR or /tmp. See baton-keepalived.conf(5) for what baton does with \
             keepalived.conf.",
        );
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut page)?;
    std::fs::write(man.join("baton.8"), page)?;
    // `baton demo` runs a program the package does not ship.
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "demo") {
        // clap names commands with static strings; this program ends right after.
        let name: &'static str = Box::leak(format!("baton-{}", sub.get_name()).into_boxed_str());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name))
            .section("8")
            .render(&mut page)?;
        std::fs::write(man.join(format!("{name}.8")), page)?;
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "baton.bash"),
        (clap_complete::Shell::Zsh, "_baton"),
        (clap_complete::Shell::Fish, "baton.fish"),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "baton", &mut text);
        std::fs::write(completions.join(file), text)?;
    }
    Ok(())
}
