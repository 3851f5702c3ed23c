# Thin front end over CMake. `make test` and `make demo` install missing Debian
# packages first (toolchains/debian-packages.txt), so a fresh Debian 12 machine
# needs nothing else.
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
B := build
# ARM binaries run under qemu-user with the multiarch loader and libraries
# (libc6:arm64/armhf, the same ones the :arm64/:armhf -dev packages link to):
# no -L, so qemu takes the loader and libraries from / .
# Prefixing /usr/<triplet> instead mixes the cross toolchain's ld.so with the
# multiarch libc.so.6 of another build: threads then hang (aarch64) or crash
# (armhf) in pthread_create. See docs/architecture.md, "Cross builds".
QEMU_AARCH64 := qemu-aarch64-static
QEMU_ARMHF := qemu-arm-static

.PHONY: all deps native asan cross aarch64 armhf test demo bench format check-format banned clean

all: native

deps:
	@./toolchains/install-deps.sh

native: deps
	@cmake -S . -B $(B)/native -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
	@cmake --build $(B)/native -j$(JOBS)

asan: deps
	@cmake -S . -B $(B)/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DFLT_SANITIZE=ON -DFLT_FUZZ=ON -DFLT_TEST_LABEL_EXTRA=asan >/dev/null
	@cmake --build $(B)/asan -j$(JOBS)

aarch64: deps
	@cmake -S . -B $(B)/aarch64 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchains/aarch64-linux-gnu.cmake \
	  "-DCMAKE_CROSSCOMPILING_EMULATOR=$(QEMU_AARCH64)" -DFLT_TEST_LABEL_EXTRA=cross >/dev/null
	@cmake --build $(B)/aarch64 -j$(JOBS)

armhf: deps
	@cmake -S . -B $(B)/armhf -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/toolchains/arm-linux-gnueabihf.cmake \
	  "-DCMAKE_CROSSCOMPILING_EMULATOR=$(QEMU_ARMHF)" -DFLT_TEST_LABEL_EXTRA=cross >/dev/null
	@cmake --build $(B)/armhf -j$(JOBS)

cross: aarch64 armhf

test: deps banned check-format
	@./tests/run-all.sh

demo: deps
	@./examples/demo.sh

bench: native
	@./bench/run.sh $(B)/native

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

check-format:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

banned:
	@./tests/tools/banned-calls.sh

clean:
	rm -rf $(B)
