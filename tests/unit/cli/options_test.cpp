// The shared option groups, parsed in-process with CLI11.

#include "autoctl/cli/options.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "autoctl/common/error.hpp"

namespace autoctl::cli {
namespace {

void parse(CLI::App& app, std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());  // CLI11's vector overload takes them reversed
    app.parse(args);
}

// Sets an environment variable for the scope of one test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~ScopedEnv() { ::unsetenv(name_); }

private:
    const char* name_;
};

TEST(OptionsTest, PgdataFromOptionOrEnvironment) {
    {
        CLI::App app;
        PgdataOption option;
        option.add_to(app);
        parse(app, {"--pgdata", "/data/node1"});
        EXPECT_EQ(option.pgdata, "/data/node1");
    }
    {
        const ScopedEnv env("PGDATA", "/from/env");
        CLI::App app;
        PgdataOption option;
        option.add_to(app);
        parse(app, {});
        EXPECT_EQ(option.pgdata, "/from/env");
        EXPECT_EQ(option.paths().pgdata, "/from/env");
    }
    {
        CLI::App app;
        PgdataOption option;
        option.add_to(app);
        parse(app, {});
        EXPECT_THROW(option.paths(), common::Error);
    }
}

TEST(OptionsTest, MonitorUriIsValidated) {
    CLI::App app;
    MonitorOptions options;
    options.add_to(app);
    parse(app, {"--monitor", "postgresql://autoctl_node@monitor/pg_auto_failover"});
    EXPECT_EQ(options.monitor, "postgresql://autoctl_node@monitor/pg_auto_failover");

    CLI::App bad;
    MonitorOptions bad_options;
    bad_options.add_to(bad);
    EXPECT_THROW(parse(bad, {"--monitor", "host=monitor"}), CLI::ValidationError);
}

TEST(OptionsTest, MonitorFromEnvironment) {
    const ScopedEnv env("PG_AUTOCTL_MONITOR", "postgres://m/pg_auto_failover");
    CLI::App app;
    MonitorOptions options;
    options.add_to(app);
    parse(app, {});
    EXPECT_EQ(options.monitor, "postgres://m/pg_auto_failover");
}

TEST(OptionsTest, FormationAndGroup) {
    CLI::App app;
    FormationGroupOptions options;
    options.add_to(app);
    parse(app, {});
    EXPECT_EQ(options.formation, "default");
    EXPECT_EQ(options.group, -1);
    parse(app, {"--formation", "citus", "--group", "2"});
    EXPECT_EQ(options.formation, "citus");
    EXPECT_EQ(options.group, 2);

    CLI::App bad;
    FormationGroupOptions bad_options;
    bad_options.add_to(bad);
    try {
        parse(bad, {"--group", "x"});
        FAIL() << "expected an error";
    } catch (const CLI::ValidationError& error) {
        EXPECT_STREQ(error.what(), "--group: expected a group number (0, 1, 2, ...), got \"x\"");
    }
    EXPECT_THROW(parse(bad, {"--group=-3"}), CLI::ValidationError);
}

TEST(OptionsTest, SslChoiceIsMandatoryAndExclusive) {
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {});
        try {
            ssl.validate();
            FAIL() << "expected an error";
        } catch (const common::Error& error) {
            EXPECT_EQ(error.kind(), common::ErrorKind::Usage);
            EXPECT_NE(std::string(error.what()).find("explicit SSL choice is required"), std::string::npos);
        }
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        EXPECT_THROW(parse(app, {"--no-ssl", "--ssl-self-signed"}), CLI::ExcludesError);
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        EXPECT_THROW(parse(app, {"--ssl-self-signed", "--server-cert", "/c"}), CLI::ExcludesError);
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        EXPECT_THROW(parse(app, {"--ssl-mode", "sometimes"}), CLI::ValidationError);
    }
}

TEST(OptionsTest, SslModeDefaults) {
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {"--no-ssl"});
        EXPECT_NO_THROW(ssl.validate());
        EXPECT_EQ(ssl.effective_ssl_mode(), "prefer");
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {"--ssl-self-signed"});
        EXPECT_NO_THROW(ssl.validate());
        EXPECT_EQ(ssl.effective_ssl_mode(), "require");
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {"--ssl-self-signed", "--ssl-mode", "verify-full"});
        EXPECT_THROW(ssl.validate(), common::Error);
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {"--ssl-ca-file", "/ca", "--server-cert", "/c", "--server-key", "/k"});
        EXPECT_NO_THROW(ssl.validate());
        EXPECT_EQ(ssl.effective_ssl_mode(), "verify-full");
    }
    {
        CLI::App app;
        SslOptions ssl;
        ssl.add_to(app);
        parse(app, {"--server-cert", "/c", "--server-key", "/k"});
        EXPECT_THROW(ssl.validate(), common::Error);  // verify-full needs --ssl-ca-file
    }
}

TEST(OptionsTest, AuthChoice) {
    {
        CLI::App app;
        AuthOptions auth;
        auth.add_to(app);
        parse(app, {});
        EXPECT_THROW(auth.validate(), common::Error);
    }
    {
        CLI::App app;
        AuthOptions auth;
        auth.add_to(app);
        parse(app, {"--auth", "skip"});
        EXPECT_NO_THROW(auth.validate());
        EXPECT_TRUE(auth.skips_hba());
    }
    {
        CLI::App app;
        AuthOptions auth;
        auth.add_to(app);
        parse(app, {"--skip-pg-hba"});
        EXPECT_NO_THROW(auth.validate());
        EXPECT_TRUE(auth.skips_hba());
    }
    {
        CLI::App app;
        AuthOptions auth;
        auth.add_to(app);
        EXPECT_THROW(parse(app, {"--skip-pg-hba", "--auth", "md5"}), CLI::ExcludesError);
    }
    {
        const ScopedEnv env("PG_AUTOCTL_AUTH_METHOD", "scram-sha-256");
        CLI::App app;
        AuthOptions auth;
        auth.add_to(app);
        parse(app, {});
        EXPECT_EQ(auth.auth, "scram-sha-256");
        EXPECT_NO_THROW(auth.validate());
        EXPECT_FALSE(auth.skips_hba());
    }
}

TEST(OptionsTest, OutputJson) {
    CLI::App app;
    OutputOptions output;
    output.add_to(app);
    parse(app, {"-J"});
    EXPECT_TRUE(output.json);
}

}  // namespace
}  // namespace autoctl::cli
