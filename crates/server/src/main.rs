//! The `deskward` binary: parses the command line and hands over to `serve` or an admin command.

mod audit_files;
mod cli;
mod data_dir;
mod directory_sync;
mod import;
mod key_file;
mod mail;
mod plugins;
mod retention;
mod serve;
mod settings;
mod syslog;
mod tls;

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    let args = <cli::Cli as clap::Parser>::parse();
    let settings = match cli::settings_of(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("deskward: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(keytab) = settings.as_ref().and_then(|s| s.kerberos.keytab.as_deref()) {
        use_keytab(keytab);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deskward: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The system's GSSAPI library reads the service keytab from `KRB5_KTNAME`; `kerberos.keytab`
/// sets it for this process.
#[allow(unsafe_code)]
fn use_keytab(keytab: &std::path::Path) {
    // SAFETY: called before the async runtime or any other thread exists, so nothing reads
    // the environment meanwhile.
    unsafe {
        std::env::set_var("KRB5_KTNAME", format!("FILE:{}", keytab.display()));
    }
}

/// Each argon2id hash allocates `password_hash.memory_kib` (19 MiB by default) and frees it at
/// once. glibc raises its mmap threshold after such a free, so later buffers come from
/// per-thread arenas that keep the memory: under a login flood resident memory grew to ~390 MiB
/// with two hashes in flight. A fixed threshold keeps large buffers in their own mappings,
/// returned to the system on free, so memory follows the hashes actually in flight.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Returns free memory the allocator keeps in its per-thread arenas to the system: after a
/// login flood the buffers of hundreds of connections leave them fragmented, and an idle
/// server should not keep that.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn give_back_memory() {
    // SAFETY: malloc_trim only releases free memory; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn give_back_memory() {}

/// Lowers the calling thread's scheduling priority (nice 10): password hashing yields the CPU
/// to request handling, so a login's other work and other users' requests do not queue behind
/// a hash. On Linux the nice value is per thread.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn lower_thread_priority() {
    // SAFETY: setpriority only changes the calling thread's nice value (who = 0); raising it
    // needs no privilege, and a failure leaves the priority as it was.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) } != 0;
    if failed {
        tracing::debug!("cannot lower a hashing thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_thread_priority() {}
