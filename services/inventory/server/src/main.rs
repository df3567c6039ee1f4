use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = inventory::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(inventory::main_with(args))
}
