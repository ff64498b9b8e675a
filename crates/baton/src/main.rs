mod check;

fn main() -> std::process::ExitCode {
    check::run(&check::CheckOptions {
        config: "/etc/keepalived/keepalived.conf".into(),
        config_id: None,
        all_config: false,
        json: false,
        dump: false,
    })
}
