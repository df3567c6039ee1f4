use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = payments::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(payments::main_with(args))
}
