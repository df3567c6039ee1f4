fn main() -> std::process::ExitCode {
    brigade_chassis::service::main::<gateway::GatewayService>()
}
