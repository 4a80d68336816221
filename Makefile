# autoctl: the two commands that matter are `make run` and `make test` (see README.md).
# Works as root on a fresh Debian 12 machine, with no standard input.

BUILD_DIR ?= build
JOBS ?= 2

DEB_PACKAGES := cmake make g++ pkg-config libpq-dev libpqxx-dev libcli11-dev libspdlog-dev \
	libfmt-dev nlohmann-json3-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev \
	postgresql-15 postgresql-contrib-15 iproute2

.PHONY: all deps build test bench bench-failover run clean

all: build

# Installs the Debian packages, unless every one is already installed (or, for a virtual
# package such as postgresql-contrib-15, provided by an installed package): then no apt at all,
# so this is fast and needs no network on a ready machine.
deps:
	@missing=""; \
	provided="$$(dpkg-query -W -f='$${db:Status-Abbrev}|$${Provides}\n' 2>/dev/null | grep '^ii' || true)"; \
	for pkg in $(DEB_PACKAGES); do \
		if dpkg-query -W -f='$${db:Status-Abbrev}' "$$pkg" 2>/dev/null | grep -q '^ii'; then continue; fi; \
		if printf '%s\n' "$$provided" | grep -Eq "(\||, )$$pkg( |,|$$)"; then continue; fi; \
		missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all packages are installed"; exit 0; fi; \
	echo "deps: installing:$$missing"; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update < /dev/null && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$(DEB_PACKAGES) < /dev/null

build: deps
	cmake -S . -B $(BUILD_DIR) -DAUTOCTL_WERROR=ON
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: deps build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

bench: build
	$(BUILD_DIR)/bench/fsm_decide
	$(BUILD_DIR)/bench/monitor_throughput --keepers 100 --seconds 20 --idle-seconds 60

# autoctl and pg_auto_failover, the same 2-node scenario, 3 runs each (installs pg_auto_failover).
bench-failover: build
	bench/failover/run.sh --autoctl $(BUILD_DIR)/src/cli/autoctl --writer $(BUILD_DIR)/bench/failover/failover_writer

# The main job: a local formation (monitor + 2 nodes) that fails over while a writer inserts.
run: build
	scripts/demo.sh $(BUILD_DIR)/src/cli/autoctl

clean:
	rm -rf $(BUILD_DIR)
