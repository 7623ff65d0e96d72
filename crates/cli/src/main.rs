//! The `casebookctl` binary: [`casebook_cli::run`] on a small runtime.

fn main() {
    let env = std::env::vars().collect();
    let code = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(casebook_cli::run(
            std::env::args(),
            &env,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )),
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            casebook_cli::FAILED
        }
    };
    std::process::exit(code);
}
