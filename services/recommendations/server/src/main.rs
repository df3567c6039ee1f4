fn main() -> std::process::ExitCode {
    brigade_chassis::service::main::<recommendations::Recommendations>()
}
