# Boxer's two commands, on a fresh Debian 12 machine as root:
#   make run    installs what it needs, builds, and runs boxerd on :8080
#   make test   installs what it needs, builds, and runs the whole test suite
# Variables:
#   SANITIZE=1      build and test with ASan + UBSan (in build-asan/)
#   LABEL=unit      run only the tests with that ctest label (unit, integration, fuzz)
#   LOCAL_IMAGES=1  (make run) serve the local test images as the docker.io mirror
#   BOXER_MIRROR=URL  (make run) use URL as the docker.io mirror
SHELL := /bin/bash
BUILD_DIR ?= build
CMAKE_FLAGS ?=
ifeq ($(SANITIZE),1)
BUILD_DIR := build-asan
CMAKE_FLAGS += -DBOXER_SANITIZE=ON
endif
ifeq ($(FUZZ),1)
BUILD_DIR := build-fuzz
CMAKE_FLAGS += -DBOXER_FUZZ=ON -DCMAKE_C_COMPILER=clang
endif

.PHONY: all build deps test run fuzz format check-format clean

all: build

deps:
	@hack/deps.sh $(if $(filter 1,$(FUZZ)),fuzz,build)

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR)

test:
	@hack/deps.sh test
	@$(MAKE) --no-print-directory build
	@hack/test.sh $(BUILD_DIR) $(LABEL)

fuzz:
	@$(MAKE) --no-print-directory build FUZZ=1
	@hack/test.sh build-fuzz fuzz

run:
	@hack/deps.sh run
	@$(MAKE) --no-print-directory build
	@BUILD_DIR=$(BUILD_DIR) LOCAL_IMAGES=$(LOCAL_IMAGES) hack/run.sh

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

check-format:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf build build-asan build-fuzz
