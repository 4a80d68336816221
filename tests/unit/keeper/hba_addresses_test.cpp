#include "autoctl/keeper/hba_addresses.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace autoctl::keeper {
namespace {

TEST(HbaAddresses, AnAddressIsKeptAsIs) {
    EXPECT_EQ(hba_addresses("10.1.2.3"), std::vector<std::string>{"10.1.2.3"});
    EXPECT_EQ(hba_addresses("::1"), std::vector<std::string>{"::1"});
}

TEST(HbaAddresses, ANameIsResolved) {
    const auto addresses = hba_addresses("localhost");
    EXPECT_NE(std::find(addresses.begin(), addresses.end(), "127.0.0.1"), addresses.end());
    EXPECT_EQ(std::find(addresses.begin(), addresses.end(), "localhost"), addresses.end());
}

TEST(HbaAddresses, AnUnknownNameIsKept) {
    EXPECT_EQ(hba_addresses("no-such-host.invalid"), std::vector<std::string>{"no-such-host.invalid"});
}

TEST(LanNetwork, IsTheSlash24OfTheAddress) {
    EXPECT_EQ(lan_network("10.1.2.3"), "10.1.2.0/24");
    EXPECT_EQ(lan_network("localhost"), "127.0.0.0/24");
    EXPECT_EQ(lan_network("no-such-host.invalid"), "");
    EXPECT_EQ(lan_network("::1"), "");
}

}  // namespace
}  // namespace autoctl::keeper
