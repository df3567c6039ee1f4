use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = recommendations::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(recommendations::main_with(args))
}
