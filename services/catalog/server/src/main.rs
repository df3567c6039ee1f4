use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = catalog::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(catalog::main_with(args))
}
