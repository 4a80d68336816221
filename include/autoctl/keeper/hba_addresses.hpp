#pragma once
// Addresses for pg_hba.conf rules. Postgres matches a host name in pg_hba.conf only when the
// reverse lookup of the client's address gives that very name back, which container and many
// LAN resolvers do not do (Docker answers "<container>.<network>"): rules are written with the
// addresses the name resolves to instead.

#include <string>
#include <vector>

namespace autoctl::keeper {

// `host` itself when it is an IP address; otherwise the addresses it resolves to (IPv4 and
// IPv6, without duplicates), or `host` when it does not resolve (Postgres may still match it).
std::vector<std::string> hba_addresses(const std::string& host);

// The /24 network (IPv4) of `host` or of the first IPv4 address it resolves to; "" when none.
std::string lan_network(const std::string& host);

}  // namespace autoctl::keeper
