#include "autoctl/common/ini_file.hpp"

#include <gtest/gtest.h>

#include "../../support/temp_dir.hpp"
#include "autoctl/common/error.hpp"

namespace autoctl::common {
namespace {

// Expects parse() to throw a Config error whose message contains `needle`.
void expect_parse_error(const std::string& text, const std::string& needle) {
    try {
        IniFile::parse(text, "/etc/test.cfg");
        FAIL() << "expected an error containing: " << needle;
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::Config);
        EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
    }
}

TEST(IniFileTest, ParsesSectionsKeysAndValuesInOrder) {
    const auto ini = IniFile::parse(
        "# leading comment\n"
        "[pg_autoctl]\n"
        "role = keeper\n"
        "  monitor=postgres://autoctl_node@localhost:5432/pg_auto_failover?sslmode=prefer  \n"
        "; another comment\n"
        "\n"
        "[postgresql]\n"
        "port = 5433\n"
        "empty =\n",
        "test.cfg");
    ASSERT_EQ(ini.sections().size(), 2u);
    EXPECT_EQ(ini.sections()[0].name, "pg_autoctl");
    ASSERT_EQ(ini.sections()[0].entries.size(), 2u);
    EXPECT_EQ(ini.sections()[0].entries[0].key, "role");
    EXPECT_EQ(ini.sections()[0].entries[1].key, "monitor");
    EXPECT_EQ(ini.get("pg_autoctl", "monitor"),
              "postgres://autoctl_node@localhost:5432/pg_auto_failover?sslmode=prefer");
    EXPECT_EQ(ini.get("postgresql", "port"), "5433");
    EXPECT_EQ(ini.get("postgresql", "empty"), "");
    EXPECT_EQ(ini.get("postgresql", "missing"), std::nullopt);
    EXPECT_EQ(ini.find("pg_autoctl", "role")->line, 3);
}

TEST(IniFileTest, ValueKeepsEqualsHashAndSemicolon) {
    const auto ini = IniFile::parse("[replication]\npassword = a=b#c;d\n", "test.cfg");
    EXPECT_EQ(ini.get("replication", "password"), "a=b#c;d");
}

TEST(IniFileTest, RoundTripIsExact) {
    const std::string text =
        "[pg_autoctl]\n"
        "role = monitor\n"
        "hostname = localhost\n"
        "\n"
        "[postgresql]\n"
        "pgdata = /data/monitor\n"
        "port = 55432\n"
        "\n"
        "[ssl]\n"
        "sslmode = prefer\n"
        "active = 0\n";
    const auto ini = IniFile::parse(text, "test.cfg");
    EXPECT_EQ(ini.serialize(), text);
    EXPECT_EQ(IniFile::parse(ini.serialize(), "again").serialize(), text);
}

TEST(IniFileTest, SerializeNormalisesSpacingAndDropsComments) {
    const auto ini = IniFile::parse("# c\n[a]\nx=1\n\n\n[b]\n  y   =   2  \n", "test.cfg");
    EXPECT_EQ(ini.serialize(), "[a]\nx = 1\n\n[b]\ny = 2\n");
}

TEST(IniFileTest, RepeatedSectionContinuesTheFirst) {
    const auto ini = IniFile::parse("[a]\nx = 1\n[b]\ny = 2\n[a]\nz = 3\n", "test.cfg");
    EXPECT_EQ(ini.serialize(), "[a]\nx = 1\nz = 3\n\n[b]\ny = 2\n");
}

TEST(IniFileTest, SetReplacesInPlaceOrAppends) {
    auto ini = IniFile::parse("[a]\nx = 1\ny = 2\n", "test.cfg");
    ini.set("a", "x", "10");
    ini.set("a", "z", "3");
    ini.set("c", "w", "4");
    EXPECT_EQ(ini.serialize(), "[a]\nx = 10\ny = 2\nz = 3\n\n[c]\nw = 4\n");
    EXPECT_TRUE(ini.erase("a", "y"));
    EXPECT_FALSE(ini.erase("a", "nope"));
    EXPECT_EQ(ini.serialize(), "[a]\nx = 10\nz = 3\n\n[c]\nw = 4\n");
}

TEST(IniFileTest, ErrorsNameFileAndLine) {
    expect_parse_error("[a]\nx = 1\nnot a pair\n", "/etc/test.cfg:3: expected \"key = value\"");
    expect_parse_error("x = 1\n", "/etc/test.cfg:1: key \"x\" is outside of any [section]");
    expect_parse_error("[a]\nx = 1\nx = 2\n", "/etc/test.cfg:3: duplicate key \"a.x\" (first set on line 2)");
    expect_parse_error("[a\n", "/etc/test.cfg:1: expected \"[section]\"");
    expect_parse_error("[]\n", "/etc/test.cfg:1: invalid section name");
    expect_parse_error("[a]\n = 1\n", "/etc/test.cfg:2: invalid key name");
}

TEST(IniFileTest, ReadNamesMissingFile) {
    test::TempDir dir;
    try {
        IniFile::read(dir / "missing.cfg");
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::Config);
        EXPECT_NE(std::string(error.what()).find((dir / "missing.cfg").string()), std::string::npos);
        EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos);
    }
}

TEST(IniFileTest, ReadParsesFileAndUsesItsNameInErrors) {
    test::TempDir dir;
    test::write_text(dir / "good.cfg", "[a]\nx = 1\n");
    EXPECT_EQ(IniFile::read(dir / "good.cfg").get("a", "x"), "1");
    test::write_text(dir / "bad.cfg", "[a]\nbroken\n");
    try {
        IniFile::read(dir / "bad.cfg");
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find((dir / "bad.cfg").string() + ":2:"), std::string::npos)
            << error.what();
    }
}

}  // namespace
}  // namespace autoctl::common
