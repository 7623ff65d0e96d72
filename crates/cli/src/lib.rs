//! `casebookctl`: a tenant's roles and applications as a YAML file in
//! version control. `export` writes the file, `plan` says what `apply`
//! would change (exit 0 nothing, 2 something, 1 an error, as Terraform's
//! `-detailed-exitcode`), `apply` makes it so through the admin API.
//!
//! [`run`] is the whole program, callable from tests with their own
//! arguments, environment and output.

pub mod file;
pub mod load;
pub mod plan;
pub mod refusal;
pub mod remote;
pub mod render;

use casebook_sdk::{Client, ClientSecret, Password};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit codes, as Terraform's `plan -detailed-exitcode`.
pub const NO_CHANGES: i32 = 0;
pub const FAILED: i32 = 1;
pub const CHANGES: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "casebookctl",
    version,
    about = "A Casebook tenant's roles and applications as a file: export, plan, apply.",
    after_help = "The tenant is CASEBOOK_URL. Sign in with CASEBOOK_CLIENT_ID and CASEBOOK_CLIENT_SECRET \
                  (an application with admin: permissions) or CASEBOOK_EMAIL and CASEBOOK_PASSWORD (a person)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes the tenant's roles and applications as YAML: no id, no secret.
    Export {
        /// The file to write; standard output when left out.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Prints what apply would change. Exit 0: nothing; 2: something; 1: an error.
    Plan {
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Also remove what the server has and the file does not.
        #[arg(long)]
        prune: bool,
    },
    /// Makes the tenant match the file: roles first, then applications.
    Apply {
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Also remove what the server has and the file does not.
        #[arg(long)]
        prune: bool,
        /// Writes each new application's first secret here (mode 0600);
        /// needs a person signed in (CASEBOOK_EMAIL, CASEBOOK_PASSWORD).
        #[arg(long, value_name = "FILE")]
        secrets_out: Option<PathBuf>,
    },
    /// Checks the file offline with the server's own form rules.
    Validate {
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Prints the file format's JSON Schema, for editors.
    Schema,
}

/// Who the program acts as.
enum Caller {
    Application,
    Person(Password),
}

struct Io<'a> {
    env: &'a BTreeMap<String, String>,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl Io<'_> {
    fn fail(&mut self, message: impl std::fmt::Display) -> i32 {
        let _ = writeln!(self.err, "error: {message}");
        FAILED
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// The program: `args` as the shell gives them (the program's name
/// first), `env` the environment; answers the exit code.
pub async fn run(
    args: impl IntoIterator<Item = String>,
    env: &BTreeMap<String, String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut io = Io { env, out, err };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { FAILED } else { NO_CHANGES };
            let rendered = e.render().to_string();
            let _ = if e.use_stderr() {
                io.err.write_all(rendered.as_bytes())
            } else {
                io.out.write_all(rendered.as_bytes())
            };
            return code;
        }
    };
    match cli.command {
        Command::Schema => {
            let _ = io.out.write_all(file::schema().as_bytes());
            NO_CHANGES
        }
        Command::Validate { file } => match read(&io, &file) {
            Ok(_) => {
                let _ = writeln!(io.out, "{}: valid", file.display());
                NO_CHANGES
            }
            Err(message) => io.fail(message),
        },
        Command::Export { output } => export(&mut io, output.as_deref()).await,
        Command::Plan { file, prune } => plan(&mut io, &file, prune).await,
        Command::Apply {
            file,
            prune,
            secrets_out,
        } => apply(&mut io, &file, prune, secrets_out.as_deref()).await,
    }
}

/// The file read and checked offline, or every problem in it, one a line.
fn read(io: &Io<'_>, path: &Path) -> Result<file::Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let env = |name: &str| io.env.get(name).cloned();
    load::load(&text, &env).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        format!("{} is not valid:\n{}", path.display(), lines.join("\n"))
    })
}

async fn connect(io: &Io<'_>) -> Result<(Client, Caller), String> {
    let url = io
        .var("CASEBOOK_URL")
        .ok_or("CASEBOOK_URL is not set: the tenant's base URL")?;
    let builder = Client::builder(url);
    if let (Some(id), Some(secret)) = (io.var("CASEBOOK_CLIENT_ID"), io.var("CASEBOOK_CLIENT_SECRET")) {
        let client = builder
            .client_credentials(id, ClientSecret::from_presented(secret))
            .build()
            .map_err(|e| refusal::describe("setting up the client", "", &e))?;
        return Ok((client, Caller::Application));
    }
    if let (Some(email), Some(password)) = (io.var("CASEBOOK_EMAIL"), io.var("CASEBOOK_PASSWORD")) {
        let password = Password::new(password);
        let client = builder
            .build()
            .map_err(|e| refusal::describe("setting up the client", "", &e))?
            .sign_in(&email, &password)
            .await
            .map_err(|e| refusal::describe(&format!("signing in as {email}"), "", &e))?;
        return Ok((client, Caller::Person(password)));
    }
    Err(
        "no credentials: set CASEBOOK_CLIENT_ID and CASEBOOK_CLIENT_SECRET, or CASEBOOK_EMAIL and CASEBOOK_PASSWORD"
            .into(),
    )
}

async fn export(io: &mut Io<'_>, output: Option<&Path>) -> i32 {
    let result = async {
        let (client, _) = connect(io).await?;
        let current = remote::fetch(&client).await?;
        file::to_yaml(&remote::export(&current))
    }
    .await;
    let text = match result {
        Ok(text) => text,
        Err(message) => return io.fail(message),
    };
    match output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => NO_CHANGES,
            Err(e) => io.fail(format!("cannot write {}: {e}", path.display())),
        },
        None => {
            let _ = io.out.write_all(text.as_bytes());
            NO_CHANGES
        }
    }
}

/// The file, the server's state and the plan between them.
async fn prepare(io: &Io<'_>, path: &Path, prune: bool) -> Result<(Client, Caller, plan::Current, plan::Plan), String> {
    let desired = read(io, path)?;
    let (client, caller) = connect(io).await?;
    let current = remote::fetch(&client).await?;
    let plan = plan::plan(&desired, &current, prune).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        format!("{} cannot be applied:\n{}", path.display(), lines.join("\n"))
    })?;
    // Pruning the pipeline's own application would lock the pipeline out
    // halfway through; that takes a person, on purpose.
    if let (Caller::Application, Some(me)) = (&caller, io.var("CASEBOOK_CLIENT_ID")) {
        for step in &plan.steps {
            if let plan::Step::RemoveApplication { name, .. } = step
                && current.client_ids.get(name) == Some(&me)
            {
                return Err(format!(
                    "--prune would remove {name:?}, the application casebookctl is signed in as: add it to {}",
                    path.display()
                ));
            }
        }
    }
    Ok((client, caller, current, plan))
}

async fn plan(io: &mut Io<'_>, path: &Path, prune: bool) -> i32 {
    match prepare(io, path, prune).await {
        Ok((_, _, _, plan)) => {
            let _ = io.out.write_all(render::render(&plan).as_bytes());
            if plan.is_empty() { NO_CHANGES } else { CHANGES }
        }
        Err(message) => io.fail(message),
    }
}

async fn apply(io: &mut Io<'_>, path: &Path, prune: bool, secrets_out: Option<&Path>) -> i32 {
    let (client, caller, current, plan) = match prepare(io, path, prune).await {
        Ok(prepared) => prepared,
        Err(message) => return io.fail(message),
    };
    let password = match (&caller, secrets_out) {
        (Caller::Person(password), Some(_)) => Some(password),
        (Caller::Application, Some(_)) => {
            return io.fail(
                "--secrets-out needs a person signed in (CASEBOOK_EMAIL, CASEBOOK_PASSWORD): \
                 only a person may reveal a secret",
            );
        }
        (_, None) => None,
    };
    let _ = io.out.write_all(render::render(&plan).as_bytes());
    let mut applied = remote::Applied::default();
    let result = remote::apply(&client, &plan, &current, password, &mut applied).await;
    for line in &applied.done {
        let _ = writeln!(io.out, "{line}");
    }
    // What was made before a refusal keeps its secret too; a run that made
    // none leaves an earlier run's file alone.
    if let Some(path) = secrets_out
        && !applied.secrets.is_empty()
        && let Err(e) = write_secrets(path, &applied.secrets)
    {
        return io.fail(format!("cannot write the secrets to {}: {e}", path.display()));
    }
    match result {
        Ok(()) => {
            let created = applied.secrets.len();
            if secrets_out.is_some() {
                let _ = writeln!(io.out, "{created} new secret(s) written to the secrets file");
            }
            let _ = writeln!(io.out, "Apply complete: {} step(s).", applied.done.len());
            NO_CHANGES
        }
        Err(message) => io.fail(message),
    }
}

#[derive(serde::Serialize)]
struct SecretsFile<'a> {
    applications: &'a [remote::NewSecret],
}

/// Mode 0600 from its first byte, and whole or not at all: a new file made
/// beside the target (`create_new`, so nothing already there, a link
/// included, is opened), written, synced, then renamed over the target, so
/// a link placed at the target is replaced rather than followed.
fn write_secrets(path: &Path, secrets: &[remote::NewSecret]) -> std::io::Result<()> {
    let text = serde_saphyr::to_string(&SecretsFile { applications: secrets }).map_err(std::io::Error::other)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the secrets file needs a file name"))?;
    let mut partial = name.to_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = path.with_file_name(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&partial).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&partial, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    renamed
}
