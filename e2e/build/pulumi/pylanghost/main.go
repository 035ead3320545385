// Command pulumi-language-python is the e2e harness's Python language host.
//
// Why this exists: upstream's host lives in its own module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) that has no
// release tags and that the Go module proxy reachable here does not serve at any
// version, so it cannot be built. The CLI talks to a language host only through
// the LanguageRuntime gRPC service, and the real work of running a Python program
// is done by upstream's own `pulumi-language-python-exec` script (copied next to
// this binary from the sdk/v3 module zip) and upstream's toolchain package
// (sdk/v3/python/toolchain), both used unchanged here. This host implements the
// calls `pulumi preview/up/destroy/refresh/about/install` make for a pip-managed
// project with a pre-created virtualenv: Handshake, GetPluginInfo,
// GetRequiredPackages/Plugins, Run, InstallDependencies (validation only: it never
// downloads), About, GetProgramDependencies, RuntimeOptionsPrompts and RunPlugin
// (policy packs, dynamic-provider style `python -m <module>` plugins).
// Everything else answers Unimplemented, as an older upstream host would.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// execScriptName is upstream's program runner, which must sit next to this binary.
const execScriptName = "pulumi-language-python-exec"

// bailExitCode is what the exec script exits with after it has already shown the
// user an actionable error; the engine must then stop without repeating it.
const bailExitCode = 32

func main() {
	tracing := flag.String("tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint (passed through)")
	useExecutor := flag.String("use-executor", "", "Use this exec script instead of the one next to the binary")
	flag.String("root", "", "Project root (accepted for compatibility; the engine sends it per request)")
	flag.String("virtualenv", "", "Virtualenv (accepted for compatibility; read from ProgramInfo options)")
	flag.Parse()

	execPath := *useExecutor
	if execPath == "" {
		self, err := os.Executable()
		if err != nil {
			fatal("could not determine current executable: %v", err)
		}
		execPath = filepath.Join(filepath.Dir(self), execScriptName)
	}
	if _, err := os.Stat(execPath); err != nil {
		fatal("missing executor %s (copy it from the sdk/v3 module: python/cmd/%s)", execPath, execScriptName)
	}

	host := &pythonHost{execPath: execPath, tracing: *tracing}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fatal("could not start language host RPC server: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal("language host RPC stopped serving: %v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	execPath string
	tracing  string

	mu            sync.Mutex
	engineAddress string
}

func (h *pythonHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake records the engine address when the engine sends it this way.
func (h *pythonHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports the version stamped at build time (same -X anchor as the CLI).
func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// resolveToolchain turns Pulumi.yaml runtime options into upstream's toolchain,
// exactly as the upstream host does (virtualenv relative to the project root).
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	if info == nil {
		return nil, errors.New("the engine sent no program info")
	}
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}
	if o := info.GetOptions(); o != nil {
		m := o.AsMap()
		if v, ok := m["virtualenv"].(string); ok {
			opts.Virtualenv = v
		}
		switch tc, _ := m["toolchain"].(string); tc {
		case "", "pip":
		case "uv":
			opts.Toolchain = toolchain.Uv
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		default:
			return nil, fmt.Errorf("runtime option toolchain=%q: allowed values are pip, uv, poetry", tc)
		}
	}
	return toolchain.ResolveToolchain(opts)
}

// pluginScanScript lists installed distributions that carry a pulumi-plugin.json
// (what upstream reads to learn which provider plugin a package needs).
const pluginScanScript = `
import json, importlib.metadata as md
out = []
for d in md.distributions():
    for f in (d.files or []):
        if f.name in ("pulumi-plugin.json", "pulumiplugin.json"):
            try:
                data = json.loads(f.read_text())
            except Exception:
                continue
            out.append({"dist": d.metadata["Name"], "dist_version": d.version, "plugin": data})
print(json.dumps(out))
`

type scannedPlugin struct {
	Dist        string         `json:"dist"`
	DistVersion string         `json:"dist_version"`
	Plugin      map[string]any `json:"plugin"`
}

func (h *pythonHost) scanPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]scannedPlugin, error) {
	tc, err := resolveToolchain(info)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, fmt.Errorf("python virtualenv is not usable (create it first; this host never installs): %w", err)
	}
	cmd, err := tc.Command(ctx, "-c", pluginScanScript)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing pulumi packages failed: %w: %s", err, stderr.String())
	}
	var found []scannedPlugin
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("parsing package list: %w", err)
	}
	return found, nil
}

func pluginNameVersion(p scannedPlugin) (string, string, string, bool) {
	if res, _ := p.Plugin["resource"].(bool); !res {
		return "", "", "", false
	}
	name, _ := p.Plugin["name"].(string)
	if name == "" {
		name = strings.TrimPrefix(strings.ToLower(p.Dist), "pulumi-")
	}
	ver, _ := p.Plugin["version"].(string)
	if ver == "" {
		ver = p.DistVersion
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	server, _ := p.Plugin["server"].(string)
	return name, ver, server, true
}

// GetRequiredPackages reports each installed Pulumi package's resource plugin.
func (h *pythonHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	found, err := h.scanPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range found {
		if name, ver, server, ok := pluginNameVersion(p); ok {
			resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
				Kind: "resource", Name: name, Version: ver, Server: server,
			})
		}
	}
	return resp, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages.
func (h *pythonHost) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	found, err := h.scanPlugins(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range found {
		if name, ver, server, ok := pluginNameVersion(p); ok {
			resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
				Kind: "resource", Name: name, Version: ver, Server: server,
			})
		}
	}
	return resp, nil
}

// Run executes the program through upstream's exec script. Config and the list of
// secret keys travel in the environment (never argv), as upstream does.
func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("python virtualenv is not usable: %v", err)}, nil
	}
	program := req.GetProgram()
	if info := req.GetInfo(); info != nil && info.GetEntryPoint() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	if program == "" {
		program = "."
	}
	args := []string{h.execPath}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("project", req.GetProject())
	if info := req.GetInfo(); info != nil {
		add("root_directory", info.GetRootDirectory())
	}
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	// A program without config gets "{}" and "[]", never "null": the SDK iterates both.
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	secretKeyList := req.GetConfigSecretKeys()
	if secretKeyList == nil {
		secretKeyList = []string{}
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("serializing config: %w", err)
	}
	secretKeys, err := json.Marshal(secretKeyList)
	if err != nil {
		return nil, fmt.Errorf("serializing secret keys: %w", err)
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// InstallDependencies only validates: the harness pre-creates the virtualenv and
// this machine must not download packages during a deployment.
func (h *pythonHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, srv pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(srv.Context()); err != nil {
		return fmt.Errorf("python virtualenv is not usable and this host does not install packages: %w", err)
	}
	return nil
}

// About reports the interpreter in use.
func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}

// GetProgramDependencies lists installed packages (for `pulumi about`).
func (h *pythonHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// RuntimeOptionsPrompts asks nothing: the project file already says pip + virtualenv.
func (h *pythonHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// RunPlugin runs a Python plugin (e.g. a policy pack) in the project's toolchain:
// `python -u -m pulumi.policy <args> <pack dir>` for policy packs, otherwise the
// program path, streaming its output back to the engine.
func (h *pythonHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, srv pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := srv.Context()
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	var args []string
	if req.GetKind() == "analyzer" || req.GetKind() == "policy" {
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, req.GetProgram())
	} else {
		args = append([]string{"-u", req.GetProgram()}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Dir = req.GetPwd()
	if req.GetInfo() != nil && req.GetInfo().GetProgramDirectory() != "" && req.GetKind() != "" {
		cmd.Dir = req.GetInfo().GetProgramDirectory()
	}
	stdout := &streamWriter{send: func(b []byte) error {
		return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}}
	stderr := &streamWriter{send: func(b []byte) error {
		return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	}}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = exitErr.ExitCode()
	}
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// streamWriter serialises writes from the child's two pipes onto one gRPC stream.
type streamWriter struct {
	send func([]byte) error
}

var sendMu sync.Mutex

func (w *streamWriter) Write(p []byte) (int, error) {
	sendMu.Lock()
	defer sendMu.Unlock()
	buf := make([]byte, len(p))
	copy(buf, p)
	if err := w.send(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = (*streamWriter)(nil)
