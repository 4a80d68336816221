// autoctl's entry point: the one place where errors become exit codes (with one line on stderr).

#include <exception>
#include <iostream>

#include "autoctl/cli/command_line.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

int main(int argc, char** argv) {
    namespace common = autoctl::common;
    common::setup_logging(common::LogLevel::Info);
    try {
        autoctl::cli::CommandLine command_line;
        try {
            return command_line.run(argc, argv, std::cout, std::cerr);
        } catch (const CLI::ParseError& error) {
            return command_line.report_parse_error(error, std::cerr);
        }
    } catch (const autoctl::cli::FatalError& error) {
        common::logger("cli")->critical("{}", error.what());
        return common::to_int(common::exit_code_for(error.kind()));
    } catch (const common::Error& error) {
        common::logger("cli")->error("{}", error.what());
        return common::to_int(common::exit_code_for(error.kind()));
    } catch (const std::exception& error) {
        common::logger("cli")->error("unexpected error (bug): {}", error.what());
        return common::to_int(common::exit_code_for(common::ErrorKind::Internal));
    }
}
