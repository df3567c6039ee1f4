use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = users::Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(users::main_with(args))
}
