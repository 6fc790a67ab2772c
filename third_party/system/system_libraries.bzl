"""Repository rule exposing Debian's system C++ libraries to Bazel.

Creates @system with one cc_library per library (headers come from /usr/include,
which is on the compiler's default search path). gRPC's link closure (absl, re2,
c-ares, upb, OpenSSL, ...) is about ninety flags and changes with the Debian
package, so it is asked of pkg-config on the building machine instead of being
written out by hand. A missing package fails the build with the package name.
"""

# pkg-config modules whose link flags make up the gRPC/Protobuf/Abseil closure.
_GRPC_MODULES = [
    "grpc++",
    "protobuf",
    "absl_status",
    "absl_statusor",
    "absl_strings",
    "absl_synchronization",
    "absl_str_format",
    "absl_time",
    "absl_flat_hash_map",
    "absl_hash",
    "absl_random_random",
]

# Where tools/install-deps.sh puts the ghsystem folder of Debian's
# texlive-science (GHS pictograms, transport class labels, statement texts).
_GHSYSTEM_DIR = "/usr/local/share/chemledger/ghsystem"

# Debian's libjs-chart.js (MIT): the regulator console's charts.
_CHART_JS_DIR = "/usr/share/javascript/chart.js"

def _pkg_config_libs(ctx, modules):
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed (install the Debian -dev packages: " % " ".join(modules) +
             "run tools/install-deps.sh): " + result.stderr)
    flags = []
    for flag in result.stdout.strip().split(" "):
        # Shared libraries: order does not matter, so repeated flags are dropped.
        if flag and flag not in flags:
            flags.append(flag)
    return flags

def _starlark_list(items):
    return "[" + ", ".join(['"%s"' % i for i in items]) + "]"

def _system_libraries_impl(ctx):
    if ctx.which("pkg-config") == None:
        fail("pkg-config not found: run tools/install-deps.sh")
    grpc = _pkg_config_libs(ctx, _GRPC_MODULES)
    httplib = _pkg_config_libs(ctx, ["cpp-httplib", "openssl", "zlib", "libbrotlienc", "libbrotlidec"])
    prometheus = _pkg_config_libs(ctx, ["prometheus-cpp-core"])
    ghsystem = ctx.path(_GHSYSTEM_DIR)
    if not ghsystem.get_child("language").get_child("ghsystem_english.def").exists:
        fail("%s is missing ghsystem's pictures and statements: run tools/install-deps.sh" %
             _GHSYSTEM_DIR)
    ctx.symlink(ghsystem, "ghsystem")
    chart_js = ctx.path(_CHART_JS_DIR)
    if not chart_js.get_child("chart.min.js").exists:
        fail("%s/chart.min.js is missing: run tools/install-deps.sh (Debian's libjs-chart.js)" %
             _CHART_JS_DIR)
    ctx.symlink(chart_js, "chart_js")
    ctx.template("BUILD.bazel", ctx.attr._template, {
        "%{GRPC_LINKOPTS}": _starlark_list(grpc + ["-lgrpc++_reflection"]),
        "%{HTTPLIB_LINKOPTS}": _starlark_list(httplib),
        "%{PROMETHEUS_LINKOPTS}": _starlark_list(prometheus),
    })
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    attrs = {
        "_template": attr.label(default = Label("//third_party/system:BUILD.system.tpl")),
    },
    local = True,
    configure = True,
)
