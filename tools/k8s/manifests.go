// Package k8s checks cbload's Kubernetes manifests (examples/k8s) without a
// cluster: every document is decoded strictly into its k8s.io/api type (an
// unknown or mistyped field is an error) and the objects are checked against
// each other — the Indexed Job's shards, the fault server in front of the
// dependency, the shared results volume and the merge step. It is its own
// module so that the main module does not depend on k8s.io/api.
package k8s

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	Where string // file, document number and first line, for messages
	Obj   any    // *corev1.ConfigMap, *corev1.PersistentVolumeClaim, *corev1.Service, *appsv1.Deployment or *batchv1.Job
}

// kinds is the closed table of what the manifests may contain.
var kinds = map[string]func() any{
	"v1/ConfigMap":             func() any { return new(corev1.ConfigMap) },
	"v1/PersistentVolumeClaim": func() any { return new(corev1.PersistentVolumeClaim) },
	"v1/Service":               func() any { return new(corev1.Service) },
	"apps/v1/Deployment":       func() any { return new(appsv1.Deployment) },
	"batch/v1/Job":             func() any { return new(batchv1.Job) },
}

// ReadDir reads every *.yaml file under dir, keyed by its path relative to dir.
func ReadDir(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	return files, err
}

// Decode splits each file into its documents and decodes each one strictly
// into the k8s.io/api type its apiVersion and kind name. It returns every
// error, not only the first.
func Decode(files map[string][]byte) ([]Object, []error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []Object
	var errs []error
	for _, name := range names {
		line := 1
		for i, doc := range bytes.Split(files[name], []byte("\n---\n")) {
			where := fmt.Sprintf("%s document %d (line %d)", name, i+1, line)
			line += bytes.Count(doc, []byte("\n")) + 2
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: apiVersion %q kind %q: want one of %s", where, tm.APIVersion, tm.Kind, strings.Join(sortedKeys(kinds), ", ")))
				continue
			}
			obj := newObj()
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", where, tm.Kind, err))
				continue
			}
			objs = append(objs, Object{Where: where, Obj: obj})
		}
	}
	return objs, errs
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// command is a container's cbload invocation: the subcommand, its
// --flag=value flags (a bare --flag is "") and its positional arguments.
type command struct {
	sub   string
	flags map[string]string
	args  []string
}

func parseCommand(c corev1.Container) command {
	argv := append(slices.Clone(c.Command[1:]), c.Args...)
	cmd := command{flags: map[string]string{}}
	for i, a := range argv {
		switch {
		case i == 0:
			cmd.sub = a
		case strings.HasPrefix(a, "--"):
			k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			cmd.flags[k] = v
		default:
			cmd.args = append(cmd.args, a)
		}
	}
	return cmd
}

// checker collects problems while checking the objects against each other.
type checker struct {
	problems   []string
	configMaps map[string]*corev1.ConfigMap
	claims     map[string]*corev1.PersistentVolumeClaim
}

func (c *checker) errorf(where, format string, args ...any) {
	c.problems = append(c.problems, where+": "+fmt.Sprintf(format, args...))
}

// Check checks what strict decoding cannot: what each object must say for a
// distributed cbload run and that the objects agree with each other. It
// returns one line per problem.
func Check(objs []Object) []string {
	c := &checker{configMaps: map[string]*corev1.ConfigMap{}, claims: map[string]*corev1.PersistentVolumeClaim{}}
	var deployments, loads, merges []Object
	var services []Object
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.ConfigMap:
			c.configMaps[v.Name] = v
		case *corev1.PersistentVolumeClaim:
			c.claims[v.Name] = v
			c.checkClaim(o.Where, v)
		case *corev1.Service:
			services = append(services, o)
		case *appsv1.Deployment:
			deployments = append(deployments, o)
		case *batchv1.Job:
			if v.Spec.CompletionMode != nil && *v.Spec.CompletionMode == batchv1.IndexedCompletion {
				loads = append(loads, o)
			} else {
				merges = append(merges, o)
			}
		}
	}
	if len(loads) != 1 || len(deployments) != 1 || len(merges) != 1 || len(services) != 1 {
		c.errorf("examples/k8s", "%d Indexed Jobs, %d Deployments, %d Services, %d other Jobs; want one each: the load shards, cbload serve, its Service, the merge step",
			len(loads), len(deployments), len(services), len(merges))
		return c.problems
	}
	load, serve, merge := loads[0].Obj.(*batchv1.Job), deployments[0].Obj.(*appsv1.Deployment), merges[0].Obj.(*batchv1.Job)

	shards, out, startAt := c.checkLoad(loads[0].Where, load)
	serveStart := c.checkServe(deployments[0].Where, serve, services[0].Where, services[0].Obj.(*corev1.Service))
	if startAt != "" && serveStart != "" && startAt != serveStart {
		c.errorf(deployments[0].Where, "cbload serve --start-at comes from %s, the load shards' from %s; want one value set once", serveStart, startAt)
	}
	c.checkMerge(merges[0].Where, merge, load, shards, out)
	return c.problems
}

func (c *checker) checkClaim(where string, p *corev1.PersistentVolumeClaim) {
	if !slices.Contains(p.Spec.AccessModes, corev1.ReadWriteMany) {
		c.errorf(where, "PersistentVolumeClaim %s: accessModes %v; want ReadWriteMany (shards on several nodes write at once)", p.Name, p.Spec.AccessModes)
	}
	if q, ok := p.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
		c.errorf(where, "PersistentVolumeClaim %s: no resources.requests.storage", p.Name)
	}
}

// checkPod checks what every cbload pod needs and returns its one
// container and the command it runs.
func (c *checker) checkPod(where string, spec *corev1.PodSpec, indexed bool) (*corev1.Container, command) {
	if len(spec.Containers) != 1 {
		c.errorf(where, "%d containers; want exactly one, running cbload", len(spec.Containers))
		return nil, command{}
	}
	ctr := &spec.Containers[0]
	if ctr.Image == "" {
		c.errorf(where, "container %q: no image", ctr.Name)
	}
	if len(ctr.Command) == 0 || filepath.Base(ctr.Command[0]) != "cbload" {
		c.errorf(where, "container %q: command %q; want the cbload binary", ctr.Name, ctr.Command)
		return ctr, command{}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := ctr.Resources.Requests[r]
		lim, okLim := ctr.Resources.Limits[r]
		switch {
		case !okReq || !okLim:
			c.errorf(where, "container %q: resources.requests.%s and resources.limits.%s are both required", ctr.Name, r, r)
		case req.Cmp(lim) > 0:
			c.errorf(where, "container %q: %s request %s above its limit %s", ctr.Name, r, req.String(), lim.String())
		}
	}
	nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if sc := ctr.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		c.errorf(where, "container %q: securityContext runAsNonRoot is not true", ctr.Name)
	}
	sc := ctr.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		c.errorf(where, "container %q: securityContext wants allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities.drop [ALL]", ctr.Name)
	}

	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
		if v.ConfigMap != nil && c.configMaps[v.ConfigMap.Name] == nil {
			c.errorf(where, "volume %s: no ConfigMap %s in the manifests", v.Name, v.ConfigMap.Name)
		}
		if v.PersistentVolumeClaim != nil && c.claims[v.PersistentVolumeClaim.ClaimName] == nil {
			c.errorf(where, "volume %s: no PersistentVolumeClaim %s in the manifests", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	for _, m := range ctr.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			c.errorf(where, "container %q mounts volume %s, which the pod does not declare", ctr.Name, m.Name)
		}
	}
	env := map[string]bool{}
	for _, e := range ctr.Env {
		env[e.Name] = true
		if r := e.ValueFrom; r != nil && r.ConfigMapKeyRef != nil {
			if cm := c.configMaps[r.ConfigMapKeyRef.Name]; cm == nil {
				c.errorf(where, "env %s: no ConfigMap %s in the manifests", e.Name, r.ConfigMapKeyRef.Name)
			} else if _, ok := cm.Data[r.ConfigMapKeyRef.Key]; !ok {
				c.errorf(where, "env %s: ConfigMap %s has no key %q", e.Name, cm.Name, r.ConfigMapKeyRef.Key)
			}
		}
	}
	if indexed {
		env["JOB_COMPLETION_INDEX"] = true // set by the Job controller
	}
	for _, a := range append(slices.Clone(ctr.Command), ctr.Args...) {
		for rest := a; ; {
			i := strings.Index(rest, "$(")
			if i < 0 {
				break
			}
			j := strings.Index(rest[i:], ")")
			if j < 0 {
				break
			}
			if name := rest[i+2 : i+j]; !env[name] {
				c.errorf(where, "container %q: argument %q uses $(%s), which is not in its environment", ctr.Name, a, name)
			}
			rest = rest[i+j:]
		}
	}
	return ctr, parseCommand(*ctr)
}

// fromConfigMap names where env var name of ctr comes from, as
// "ConfigMap/key", or "".
func fromConfigMap(ctr *corev1.Container, name string) string {
	for _, e := range ctr.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			return e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
		}
	}
	return ""
}

// startAt checks --start-at reads one env var set from a ConfigMap and
// returns that ConfigMap/key.
func (c *checker) startAt(where string, ctr *corev1.Container, cmd command) string {
	v, ok := cmd.flags["start-at"]
	name := strings.TrimSuffix(strings.TrimPrefix(v, "$("), ")")
	src := fromConfigMap(ctr, name)
	if !ok || !strings.HasPrefix(v, "$(") || src == "" {
		c.errorf(where, "cbload %s --start-at=%q; want $(VAR) with VAR from the run's ConfigMap, the start time set once", cmd.sub, v)
	}
	return src
}

// scenario checks --scenario names a key of a ConfigMap mounted into ctr
// that holds YAML with phases.
func (c *checker) scenario(where string, spec *corev1.PodSpec, ctr *corev1.Container, cmd command) {
	p, ok := cmd.flags["scenario"]
	if !ok || p == "" {
		c.errorf(where, "cbload %s has no --scenario", cmd.sub)
		return
	}
	for _, m := range ctr.VolumeMounts {
		if filepath.Dir(p) != filepath.Clean(m.MountPath) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil || c.configMaps[v.ConfigMap.Name] == nil {
				continue
			}
			data, ok := c.configMaps[v.ConfigMap.Name].Data[filepath.Base(p)]
			if !ok {
				c.errorf(where, "--scenario=%s: ConfigMap %s has no key %s", p, v.ConfigMap.Name, filepath.Base(p))
				return
			}
			var sc struct {
				Phases []any `json:"phases"`
			}
			if err := yaml.Unmarshal([]byte(data), &sc); err != nil || len(sc.Phases) == 0 {
				c.errorf(where, "--scenario=%s: ConfigMap %s key %s is not a scenario with phases (%v)", p, v.ConfigMap.Name, filepath.Base(p), err)
			}
			return
		}
	}
	c.errorf(where, "--scenario=%s is not in a mounted ConfigMap", p)
}

// checkLoad checks the Indexed Job of load shards and returns its shard
// count, its --out pattern and where its start time comes from.
func (c *checker) checkLoad(where string, j *batchv1.Job) (shards int, out, startAt string) {
	s := j.Spec
	if s.Completions == nil || s.Parallelism == nil || *s.Completions < 1 || *s.Completions != *s.Parallelism {
		c.errorf(where, "Job %s: completions %v, parallelism %v; want both N ≥ 1, every shard running at once", j.Name, deref(s.Completions), deref(s.Parallelism))
		return 0, "", ""
	}
	shards = int(*s.Completions)
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 0 || s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		c.errorf(where, "Job %s: backoffLimitPerIndex %v, restartPolicy %q; want 0 and Never (a retried shard starts off the schedule)", j.Name, deref(s.BackoffLimitPerIndex), s.Template.Spec.RestartPolicy)
	}
	if s.BackoffLimit != nil {
		c.errorf(where, "Job %s: backoffLimit %d; want it unset (with backoffLimitPerIndex: 0 a failed shard leaves the others running; a Job-wide backoffLimit fails the Job on the first failure and kills them)", j.Name, *s.BackoffLimit)
	}
	ctr, cmd := c.checkPod(where, &s.Template.Spec, true)
	if ctr == nil || cmd.sub != "run" {
		c.errorf(where, "Job %s: runs cbload %q; want cbload run", j.Name, cmd.sub)
		return shards, "", ""
	}
	if want := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", shards); cmd.flags["shard"] != want {
		c.errorf(where, "Job %s: --shard=%q; want %s (the shard index from JOB_COMPLETION_INDEX, N = completions)", j.Name, cmd.flags["shard"], want)
	}
	startAt = c.startAt(where, ctr, cmd)
	c.scenario(where, &s.Template.Spec, ctr, cmd)
	out = cmd.flags["out"]
	if !strings.Contains(path.Base(out), "$(JOB_COMPLETION_INDEX)") || strings.Contains(path.Dir(out), "$(JOB_COMPLETION_INDEX)") || c.claimAt(&s.Template.Spec, ctr, out) == "" {
		c.errorf(where, "Job %s: --out=%q; want a folder per shard ($(JOB_COMPLETION_INDEX) in its last element) in one folder of the shared results volume", j.Name, out)
	}
	return shards, out, startAt
}

// claimAt returns the claim of the PersistentVolumeClaim volume mounted
// where path lies, or "".
func (c *checker) claimAt(spec *corev1.PodSpec, ctr *corev1.Container, path string) string {
	for _, m := range ctr.VolumeMounts {
		if !strings.HasPrefix(path, filepath.Clean(m.MountPath)+"/") || m.ReadOnly {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				return v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	return ""
}

// checkServe checks the Deployment of cbload serve and its Service, and
// returns where its start time comes from.
func (c *checker) checkServe(where string, d *appsv1.Deployment, svcWhere string, svc *corev1.Service) string {
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		c.errorf(where, "Deployment %s: replicas %v; want 1 (one fault schedule)", d.Name, deref(d.Spec.Replicas))
	}
	tmplLabels := d.Spec.Template.Labels
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 || !subset(d.Spec.Selector.MatchLabels, tmplLabels) {
		c.errorf(where, "Deployment %s: selector does not match its pod template's labels %v", d.Name, tmplLabels)
	}
	ctr, cmd := c.checkPod(where, &d.Spec.Template.Spec, false)
	if ctr == nil || cmd.sub != "serve" {
		c.errorf(where, "Deployment %s: runs cbload %q; want cbload serve", d.Name, cmd.sub)
		return ""
	}
	if v := cmd.flags["proxy-to"]; !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		c.errorf(where, "cbload serve --proxy-to=%q; want the dependency's http(s) URL", v)
	}
	c.scenario(where, &d.Spec.Template.Spec, ctr, cmd)
	src := c.startAt(where, ctr, cmd)

	addr := cmd.flags["addr"]
	i := strings.LastIndex(addr, ":")
	port := addr[i+1:]
	var containerPort *corev1.ContainerPort
	for k, p := range ctr.Ports {
		if fmt.Sprint(p.ContainerPort) == port {
			containerPort = &ctr.Ports[k]
		}
	}
	if i < 0 || strings.HasPrefix(addr, "127.") || containerPort == nil {
		c.errorf(where, "cbload serve --addr=%q; want a non-loopback host:port whose port is a containerPort %v", addr, ctr.Ports)
		return src
	}
	if len(svc.Spec.Selector) == 0 || !subset(svc.Spec.Selector, tmplLabels) {
		c.errorf(svcWhere, "Service %s: selector %v does not select the pods of Deployment %s (%v)", svc.Name, svc.Spec.Selector, d.Name, tmplLabels)
	}
	for _, p := range svc.Spec.Ports {
		t := p.TargetPort
		if t.String() == containerPort.Name || t.IntValue() == int(containerPort.ContainerPort) || (t.String() == "0" && p.Port == containerPort.ContainerPort) {
			return src
		}
	}
	c.errorf(svcWhere, "Service %s: no port targets cbload serve's port %s", svc.Name, port)
	return src
}

// checkMerge checks the merge Job reads the folder holding every shard's
// folder, on the results volume the shards wrote, and writes elsewhere: a
// shard's folder named one by one and absent would be an input error
// rather than a missing shard.
func (c *checker) checkMerge(where string, m, load *batchv1.Job, shards int, out string) {
	if m.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		c.errorf(where, "Job %s: restartPolicy %q; want Never (its exit code is the verdict)", m.Name, m.Spec.Template.Spec.RestartPolicy)
	}
	ctr, cmd := c.checkPod(where, &m.Spec.Template.Spec, false)
	if ctr == nil || cmd.sub != "merge" {
		c.errorf(where, "Job %s: runs cbload %q; want cbload merge", m.Name, cmd.sub)
		return
	}
	if shards == 0 || out == "" {
		return
	}
	want := []string{path.Dir(out)}
	if !slices.Equal(cmd.args, want) {
		c.errorf(where, "cbload merge %q; want the folder of every shard's folder %q (a missing shard is then named, not an input error)", cmd.args, want)
	}
	lctr := &load.Spec.Template.Spec.Containers[0]
	if len(want) > 0 {
		if got, wantClaim := c.claimAt(&m.Spec.Template.Spec, ctr, want[0]), c.claimAt(&load.Spec.Template.Spec, lctr, out); got == "" || got != wantClaim {
			c.errorf(where, "Job %s reads the shards from claim %q; the shards write to %q", m.Name, got, wantClaim)
		}
	}
	if o := cmd.flags["out"]; c.claimAt(&m.Spec.Template.Spec, ctr, o) == "" {
		c.errorf(where, "cbload merge --out=%q; want a folder on the results volume", o)
	} else if strings.HasPrefix(path.Clean(o)+"/", want[0]+"/") {
		c.errorf(where, "cbload merge --out=%q; want a folder outside the shards' folder %q (a merged report there would be read as a shard)", o, want[0])
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
