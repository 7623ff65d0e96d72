//! The `casebook` binary's `tenants` commands: create, list, disable,
//! enable and delete the agencies an install serves, from the operator's
//! shell rather than the root tenant's API. A module of the binary
//! (declared in `main.rs`), not of the library.

use crate::{DatabaseArgs, Failure, env};
use casebook_domain::tenant::{self, TenantForm, TenantSlug};
use casebook_domain::user::Password;
use casebook_domain::{FieldError, ValidationErrors};
use casebook_server::config::{self, Backend};
use casebook_server::db::{Db, MigrationPolicy, micros_to_rfc3339};
use casebook_server::store::{self, StoreError, TenantRecord};
use clap::Subcommand;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub(crate) enum TenantsCommand {
    /// Create a tenant with its first Administrator, who signs in at the
    /// tenant's own URL. The tenant serves at once.
    Create(TenantCreateArgs),
    /// List every tenant, the root included, by slug.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        public_url: PublicUrlArgs,
        /// A JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Stop serving a tenant: its tokens, sessions and client credentials
    /// are refused, and stay refused after it is enabled again.
    Disable {
        #[command(flatten)]
        database: DatabaseArgs,
        slug: String,
    },
    /// Serve a disabled tenant again.
    Enable {
        #[command(flatten)]
        database: DatabaseArgs,
        slug: String,
    },
    /// Delete a tenant and everything it holds. Cannot be undone.
    Delete {
        #[command(flatten)]
        database: DatabaseArgs,
        slug: String,
        /// The slug again, to show it is the one meant.
        #[arg(long, value_name = "SLUG")]
        confirm: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct TenantCreateArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    public_url: PublicUrlArgs,
    /// 2 to 40 of a-z, 0-9 and -; part of every URL of the tenant, and never
    /// changes.
    slug: String,
    /// The agency's name, as people read it.
    #[arg(long)]
    name: String,
    /// The first Administrator's email address.
    #[arg(long, value_name = "EMAIL")]
    admin_email: String,
    /// A file holding the first Administrator's password (one trailing
    /// newline is not part of it). Without it one is generated and shown
    /// once.
    #[arg(long, value_name = "FILE")]
    admin_password_file: Option<std::path::PathBuf>,
    /// The tenant as a JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

/// The issuer of the root tenant, under which every other tenant lives.
#[derive(Debug, clap::Args)]
pub(crate) struct PublicUrlArgs {
    /// As `serve` is given it [default: http://<CASEBOOK_ADDR>, or https://
    /// with CASEBOOK_TLS_CERT].
    #[arg(long, env = "CASEBOOK_PUBLIC_URL")]
    public_url: Option<String>,
}

/// `casebook tenants …`, dispatched.
pub(crate) async fn run(command: TenantsCommand) -> Result<(), Failure> {
    match command {
        TenantsCommand::Create(args) => create(args).await,
        TenantsCommand::List {
            database,
            public_url,
            json,
        } => list(&database.database_url, public_url.public_url, json).await,
        TenantsCommand::Disable { database, slug } => set_enabled(&database.database_url, &slug, false).await,
        TenantsCommand::Enable { database, slug } => set_enabled(&database.database_url, &slug, true).await,
        TenantsCommand::Delete {
            database,
            slug,
            confirm,
        } => delete(&database.database_url, &slug, &confirm).await,
    }
}

/// Tenants read per query by `list`.
const PAGE: u32 = 100;

/// A tenant as the commands print it with `--json`: the product's shape.
#[derive(Debug, Serialize)]
struct TenantOut {
    slug: String,
    name: String,
    enabled: bool,
    base_url: String,
    created_at: String,
    /// Only on `create`, and only when generated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_password: Option<String>,
}

impl TenantOut {
    fn new(record: &TenantRecord, base_url: String) -> Self {
        Self {
            slug: record.slug.clone(),
            name: record.name.clone(),
            enabled: record.enabled,
            base_url,
            created_at: micros_to_rfc3339(record.created_at),
            admin_password: None,
        }
    }

    fn line(&self) -> String {
        let state = if self.enabled { "enabled" } else { "disabled" };
        format!(
            "{}: {} ({state}), at {}, created {}",
            self.slug, self.name, self.base_url, self.created_at
        )
    }
}

/// The database of an install that has served: these commands never create
/// one, and never migrate one (a tenant needs this release's schema, which
/// `casebook migrate` or `serve` applies).
async fn open(url: &str) -> Result<Db, Failure> {
    let backend = Backend::of_url(url).ok_or_else(|| Failure::Usage(format!("unsupported database URL {url:?}")))?;
    if let Some(path) = config::sqlite_path(url).filter(|path| !path.exists()) {
        return Err(Failure::Usage(format!(
            "there is no database at {}: `casebook serve` creates it on first start",
            path.display()
        )));
    }
    let shown = config::redact_url(url);
    Db::open(url, backend, MigrationPolicy::RefusePending)
        .await
        .map_err(|e| Failure::Run(format!("{shown}: {e}")))
}

/// Runs `work` on the install's database, closed whatever the outcome.
async fn with_db<T>(url: &str, work: impl AsyncFnOnce(&Db) -> Result<T, Failure>) -> Result<T, Failure> {
    let db = open(url).await?;
    let result = work(&db).await;
    db.close().await;
    result
}

/// Every field error on a line of its own, under what was refused.
fn refused(what: &str, errors: &ValidationErrors) -> Failure {
    let lines: Vec<String> = errors
        .errors()
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                format!("  {}", e.message)
            } else {
                format!("  {}: {}", e.field, e.message)
            }
        })
        .collect();
    Failure::Usage(format!("{what}:\n{}", lines.join("\n")))
}

/// What storage refused, as the operator reads it: what the command line
/// got wrong is a usage error, anything else a failure.
fn store_failure(command: &str, slug: &str, error: StoreError) -> Failure {
    match error {
        StoreError::NotFound(_) => Failure::Usage(format!("tenants {command}: there is no tenant {slug}")),
        StoreError::Refused(errors) => refused(&format!("tenants {command} {slug} was refused"), &errors),
        StoreError::Conflict { detail, .. } => Failure::Run(format!("tenants {command} {slug}: {detail}")),
        other => Failure::Run(format!("tenants {command} {slug}: {other}")),
    }
}

/// As the API refuses it: the root is no tenant to switch off or remove.
fn root_refused(command: &str, what: &str) -> Failure {
    Failure::Usage(format!(
        "tenants {command}: the root tenant serves the whole install and cannot be {what}"
    ))
}

fn slug_argument(command: &str, raw: &str) -> Result<TenantSlug, Failure> {
    TenantSlug::parse(raw).map_err(|e: FieldError| refused(&format!("tenants {command} {raw:?}"), &e.into()))
}

/// The password in `path`, less the newline an editor or `echo` ends it
/// with.
fn read_password(path: &std::path::Path) -> Result<Password, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("--admin-password-file {}: {e}", path.display())))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(Password::new(text))
}

/// `casebook tenants create`.
pub(crate) async fn create(args: TenantCreateArgs) -> Result<(), Failure> {
    let given = args.admin_password_file.as_deref().map(read_password).transpose()?;
    let form = TenantForm {
        slug: args.slug.clone(),
        name: args.name,
        admin_email: args.admin_email,
        admin_password: given,
    };
    let new = form
        .validate()
        .map_err(|errors| refused(&format!("tenants create {:?} was refused", args.slug), &errors))?;
    let (password, generated) = match new.admin_password() {
        Some(password) => (password.clone(), false),
        None => (Password::new(&casebook_server::crypto::random_token()[..24]), true),
    };
    let hash = casebook_server::password::hash_password(password.clone())
        .await
        .map_err(|e| Failure::Run(format!("tenants create: {e}")))?;
    // No signing key is made here: a server makes the tenant's first on
    // its first use, with the install's algorithm and master key.
    let created = with_db(&args.database.database_url, async |db| {
        store::create_tenant(db, None, &new, &hash)
            .await
            .map_err(|e| store_failure("create", new.slug().as_str(), e))
    })
    .await?;
    let public_url = args.public_url.public_url.clone().unwrap_or_else(default_public_url);
    let base_url = tenant::base_url(public_url.trim(), &created.slug);
    let mut out = TenantOut::new(&created, base_url);
    if args.json {
        out.admin_password = generated.then(|| password.expose().to_owned());
        println!("{}", json(&out)?);
        return Ok(());
    }
    println!("created tenant {}", out.line());
    println!("  first Administrator: {}", new.admin_email());
    if generated {
        println!(
            "  password: {} (shown once; sign in with POST {}/admin/v1/sessions and change it)",
            password.expose(),
            out.base_url
        );
    }
    Ok(())
}

/// `casebook tenants list`: every tenant, by slug.
pub(crate) async fn list(url: &str, public_url: Option<String>, as_json: bool) -> Result<(), Failure> {
    let public_url = public_url.unwrap_or_else(default_public_url);
    let public_url = public_url.trim().trim_end_matches('/');
    with_db(url, async |db| {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store::list_tenants(db, after.as_deref(), PAGE)
                .await
                .map_err(|e| Failure::Run(format!("tenants list: {e}")))?;
            for record in &page.items {
                let out = TenantOut::new(record, tenant::base_url(public_url, &record.slug));
                if as_json {
                    all.push(out);
                } else {
                    println!("{}", out.line());
                }
            }
            match page.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        if as_json {
            println!("{}", json(&all)?);
        }
        Ok(())
    })
    .await
}

/// `casebook tenants disable` and `enable`.
pub(crate) async fn set_enabled(url: &str, slug: &str, enabled: bool) -> Result<(), Failure> {
    let command = if enabled { "enable" } else { "disable" };
    let slug = slug_argument(command, slug)?;
    let change = tenant::ValidTenantChange {
        name: None,
        enabled: Some(enabled),
    };
    if tenant::root_is_permanent(&slug, Some(&change)) {
        return Err(root_refused(command, "disabled"));
    }
    if slug.is_root() {
        return Err(root_refused(command, "changed"));
    }
    let record = with_db(url, async |db| {
        store::update_tenant(db, None, slug.as_str(), &change)
            .await
            .map_err(|e| store_failure(command, slug.as_str(), e))
    })
    .await?;
    if record.enabled {
        println!("tenant {} is enabled: it serves again", record.slug);
    } else {
        println!(
            "tenant {} is disabled: its tokens, sessions and client credentials are refused",
            record.slug
        );
    }
    Ok(())
}

/// `casebook tenants delete`: only when `--confirm` repeats the slug.
pub(crate) async fn delete(url: &str, slug: &str, confirm: &str) -> Result<(), Failure> {
    if confirm != slug {
        return Err(Failure::Usage(format!(
            "tenants delete: --confirm {confirm:?} is not {slug:?}: nothing was deleted"
        )));
    }
    let slug = slug_argument("delete", slug)?;
    if tenant::root_is_permanent(&slug, None) {
        return Err(root_refused("delete", "deleted"));
    }
    with_db(url, async |db| {
        store::delete_tenant(db, None, slug.as_str())
            .await
            .map_err(|e| store_failure("delete", slug.as_str(), e))
    })
    .await?;
    println!("tenant {slug} is deleted, with everything it held");
    Ok(())
}

fn json(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| Failure::Run(e.to_string()))
}

/// `serve`'s own default issuer, where no public URL is given.
fn default_public_url() -> String {
    let addr = env("CASEBOOK_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let scheme = if env("CASEBOOK_TLS_CERT").is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{}", addr.trim())
}
