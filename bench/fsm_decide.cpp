// Time of one monitor decision for groups of 2, 3 and 10 nodes (Google Benchmark).
// Two cases per size: a steady group (the common node_active call: nothing to change) and a group
// whose primary just died (the reporting standby triggers the failover or the election).

#include <benchmark/benchmark.h>

#include "autoctl/fsm/monitor_rules.hpp"

using namespace autoctl::fsm;
using namespace std::chrono_literals;

namespace {

GroupSnapshot steady_group(int size) {
    GroupSnapshot g;
    g.now = TimePoint{} + std::chrono::hours(400000);
    g.monitor_start = g.now - std::chrono::hours(1);
    for (int i = 1; i <= size; ++i) {
        Node n;
        n.id = i;
        n.name = "node_" + std::to_string(i);
        n.host = "10.0.0." + std::to_string(i);
        n.goal = n.reported = i == 1 ? NodeState::Primary : NodeState::Secondary;
        n.health = Health::Good;
        n.lsn = Lsn{0x30000000};
        n.report_time = n.health_check_time = n.state_change_time = g.now;
        g.nodes.push_back(n);
    }
    g.formation.number_sync_standbys = size > 2 ? 1 : 0;
    return g;
}

GroupSnapshot group_with_dead_primary(int size) {
    GroupSnapshot g = steady_group(size);
    Node& primary = g.nodes.front();
    primary.report_time = g.now - 30s;
    primary.health = Health::Bad;
    primary.health_check_time = g.now - 1s;
    return g;
}

void BM_DecideSteadyStandby(benchmark::State& state) {
    GroupSnapshot g = steady_group(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(decide(g, 2));
}

void BM_DecideSteadyPrimary(benchmark::State& state) {
    GroupSnapshot g = steady_group(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(decide(g, 1));
}

void BM_DecidePrimaryLost(benchmark::State& state) {
    GroupSnapshot g = group_with_dead_primary(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(decide(g, 2));
}

void BM_DecideGroupTimer(benchmark::State& state) {
    GroupSnapshot g = steady_group(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(decide_group(g));
}

}  // namespace

BENCHMARK(BM_DecideSteadyStandby)->Arg(2)->Arg(3)->Arg(10);
BENCHMARK(BM_DecideSteadyPrimary)->Arg(2)->Arg(3)->Arg(10);
BENCHMARK(BM_DecidePrimaryLost)->Arg(2)->Arg(3)->Arg(10);
BENCHMARK(BM_DecideGroupTimer)->Arg(2)->Arg(3)->Arg(10);

BENCHMARK_MAIN();
