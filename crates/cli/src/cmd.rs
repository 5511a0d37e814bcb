//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod apply;
pub mod boot;
pub mod confirm;
pub mod drift;
pub mod plan;
pub mod reset;
pub mod rollback;
pub mod slots;
pub mod status;
pub mod switch;
pub mod translate;
pub mod validate;

/// Refuses a `--root` that is not an existing directory, naming it, before
/// anything is read or written (the reconfiguration commands would otherwise
/// fail later on some path inside it, or find "nothing staged").
pub(crate) fn check_root(root: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let md = std::fs::metadata(root).with_context(|| {
        format!(
            "target root {} cannot be used; pass an existing directory with --root",
            root.display()
        )
    })?;
    if !md.is_dir() {
        anyhow::bail!(
            "target root {} is not a directory; pass a directory with --root",
            root.display()
        );
    }
    Ok(())
}
