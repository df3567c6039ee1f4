fn main() -> std::process::ExitCode {
    brigade_chassis::service::main::<orders::Orders>()
}
