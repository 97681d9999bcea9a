package k8s

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var examplesDir = filepath.Join("..", "..", "examples", "k8s")

func readExamples(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.yaml under %s", examplesDir)
	}
	return files
}

// problems decodes and checks files, returning every error and problem.
func problems(files map[string][]byte) []string {
	objs, errs := Decode(files)
	var out []string
	for _, err := range errs {
		out = append(out, err.Error())
	}
	if len(errs) == 0 {
		out = append(out, Check(objs)...)
	}
	return out
}

func TestExamples(t *testing.T) {
	files := readExamples(t)
	for _, p := range problems(files) {
		t.Error(p)
	}
	objs, _ := Decode(files)
	if len(objs) != 6 {
		t.Errorf("decoded %d objects; want 6 (ConfigMap, PersistentVolumeClaim, Deployment, Service, load Job, merge Job)", len(objs))
	}
}

// Each mistake, made in a copy of the real manifests, is reported: the
// checks above can fail.
func TestExamplesMistakes(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "load-job.yaml", "  completionMode: Indexed\n", "  completionMode: Indexed\n  completionsMode: Indexed\n", `unknown field "completionsMode"`},
		{"mistyped field", "load-job.yaml", "  parallelism: 3\n", "  parallelism: three\n", "cannot unmarshal string into Go struct field JobSpec.spec.parallelism"},
		{"duplicate field", "load-job.yaml", "  backoffLimitPerIndex: 0\n", "  backoffLimitPerIndex: 0\n  backoffLimitPerIndex: 1\n", `"backoffLimitPerIndex" already set`},
		{"unknown kind", "results-pvc.yaml", "kind: PersistentVolumeClaim", "kind: PersistentVolume", `kind "PersistentVolume"`},
		{"not indexed", "load-job.yaml", "completionMode: Indexed", "completionMode: NonIndexed", "Indexed Jobs"},
		{"parallelism below completions", "load-job.yaml", "parallelism: 3", "parallelism: 2", "completions 3, parallelism 2"},
		{"fixed shard index", "load-job.yaml", "--shard=$(JOB_COMPLETION_INDEX)/3", "--shard=0/3", "JOB_COMPLETION_INDEX"},
		{"shard count not completions", "load-job.yaml", "--shard=$(JOB_COMPLETION_INDEX)/3", "--shard=$(JOB_COMPLETION_INDEX)/4", "N = completions"},
		{"one folder for all shards", "load-job.yaml", "--out=/results/shards/shard-$(JOB_COMPLETION_INDEX)", "--out=/results/shards", "folder per shard"},
		{"shards in separate folders", "load-job.yaml", "--out=/results/shards/shard-$(JOB_COMPLETION_INDEX)", "--out=/results/$(JOB_COMPLETION_INDEX)/report", "folder per shard"},
		{"retries", "load-job.yaml", "  backoffLimitPerIndex: 0\n", "  backoffLimitPerIndex: 6\n", "backoffLimitPerIndex 6"},
		{"one failed shard fails all", "load-job.yaml", "  backoffLimitPerIndex: 0\n", "  backoffLimitPerIndex: 0\n  backoffLimit: 0\n", "kills them"},
		{"no start time", "load-job.yaml", "            - --start-at=$(START_AT)\n", "", "--start-at"},
		{"start time typed in", "faults.yaml", "--start-at=$(START_AT)", "--start-at=2026-12-01T12:00:00Z", "set once"},
		{"undefined variable", "load-job.yaml", "--start-at=$(START_AT)", "--start-at=$(START)", "$(START)"},
		{"missing ConfigMap key", "faults.yaml", "key: start-at", "key: start_at", `no key "start_at"`},
		{"root", "load-job.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"privilege escalation", "merge/merge-job.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"no image", "faults.yaml", "image: cbload:dev", `image: ""`, "no image"},
		{"no command", "merge/merge-job.yaml", "command: [cbload]", "command: []", "want the cbload binary"},
		{"no limits", "load-job.yaml", "            limits:\n              cpu: \"2\"\n              memory: 1Gi\n", "", "resources.limits.cpu"},
		{"request above limit", "faults.yaml", "cpu: 500m", "cpu: \"4\"", "above its limit"},
		{"two fault schedules", "faults.yaml", "replicas: 1", "replicas: 2", "one fault schedule"},
		{"no proxy", "faults.yaml", "--proxy-to=http://my-dependency:8080", "--proxy-to=", "--proxy-to"},
		{"serve on loopback", "faults.yaml", "--addr=$(POD_IP):8081", "--addr=127.0.0.1:8081", "non-loopback"},
		{"Service selects nothing", "faults.yaml", "  selector:\n    app.kubernetes.io/name: cbload\n    app.kubernetes.io/component: faults\n  ports:", "  selector:\n    app.kubernetes.io/name: cbload\n    app.kubernetes.io/component: fault\n  ports:", "does not select"},
		{"scenario not mounted", "faults.yaml", "--scenario=/etc/cbload/scenario.yaml", "--scenario=/scenario.yaml", "not in a mounted ConfigMap"},
		{"scenario key missing", "run-config.yaml", "  scenario.yaml: |", "  scenarios.yaml: |", "has no key scenario.yaml"},
		{"merge names the shards", "merge/merge-job.yaml", "            - /results/shards\n", "            - /results/shards/shard-0\n            - /results/shards/shard-1\n            - /results/shards/shard-2\n", "folder of every shard's folder"},
		{"merge writes among the shards", "merge/merge-job.yaml", "--out=/results/merged", "--out=/results/shards/merged", "outside the shards' folder"},
		{"results not shared", "results-pvc.yaml", "accessModes: [ReadWriteMany]", "accessModes: [ReadWriteOnce]", "ReadWriteMany"},
		{"merge reads another volume", "merge/merge-job.yaml", "claimName: cbload-results", "claimName: other", "no PersistentVolumeClaim other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := readExamples(t)
			src, ok := files[tc.file]
			if !ok || !strings.Contains(string(src), tc.old) {
				t.Fatalf("%s does not contain %q: the mistake cannot be made", tc.file, tc.old)
			}
			files[tc.file] = []byte(strings.Replace(string(src), tc.old, tc.new, 1))
			got := problems(files)
			for _, p := range got {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("with %s: problems %q; want one containing %q", tc.name, got, tc.want)
		})
	}
}

func TestDecodeErrorsNameTheDocument(t *testing.T) {
	_, errs := Decode(map[string][]byte{"a.yaml": []byte("# two\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nbogus: 1\n")})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "a.yaml document 2 (line 3)") || !strings.Contains(errs[0].Error(), `unknown field "bogus"`) {
		t.Errorf("Decode errors = %v; want one naming a.yaml document 2 (line 3) and the unknown field bogus", errors.Join(errs...))
	}
}
