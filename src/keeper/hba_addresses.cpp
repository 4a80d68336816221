#include "autoctl/keeper/hba_addresses.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace autoctl::keeper {

namespace {

bool is_ip_address(const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::vector<std::string> resolve(const std::string& host) {
    std::vector<std::string> addresses;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return addresses;
    for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        const void* raw = ai->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
        if (inet_ntop(ai->ai_family, raw, text, sizeof text) == nullptr) continue;
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) addresses.emplace_back(text);
    }
    freeaddrinfo(result);
    return addresses;
}

}  // namespace

std::vector<std::string> hba_addresses(const std::string& host) {
    if (host.empty() || is_ip_address(host)) return {host};
    auto addresses = resolve(host);
    if (addresses.empty()) return {host};
    return addresses;
}

std::string lan_network(const std::string& host) {
    for (const auto& address : is_ip_address(host) ? std::vector<std::string>{host} : resolve(host)) {
        in_addr ipv4{};
        if (inet_pton(AF_INET, address.c_str(), &ipv4) != 1) continue;
        const auto value = ntohl(ipv4.s_addr) & 0xffffff00u;
        return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
               std::to_string((value >> 8) & 0xff) + ".0/24";
    }
    return {};
}

}  // namespace autoctl::keeper
