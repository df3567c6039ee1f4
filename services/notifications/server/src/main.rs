// Every Brigade process allocates with mimalloc; ARCHITECTURE.md says why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    brigade_chassis::service::main::<notifications::Notifications>()
}
