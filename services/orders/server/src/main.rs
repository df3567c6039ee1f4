use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = orders::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(orders::main_with(args))
}
