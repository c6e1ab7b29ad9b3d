// Package deploy holds the Kubernetes manifests of usersgraph and the tests
// that check them (and the repository's Dockerfile) offline: every document
// is decoded strictly into its Kubernetes API type, then the properties the
// deployment relies on are asserted.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Where the server's sources are, relative to this directory.
const (
	configSource = "../cmd/usersgraph/config.go"
	mainSource   = "../cmd/usersgraph/main.go"
)

// kustomization is the part of kustomize's Kustomization that these
// manifests use. Decoding is strict, so a field added to kustomization.yaml
// must be added here too.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// types maps apiVersion/kind to the Go type a document must decode into.
var types = map[string]func() any{
	"apps/v1/Deployment":                            func() any { return new(appsv1.Deployment) },
	"v1/Service":                                    func() any { return new(corev1.Service) },
	"v1/ConfigMap":                                  func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                                     func() any { return new(corev1.Secret) },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":                 func() any { return new(policyv1.PodDisruptionBudget) },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return new(kustomization) },
}

// document is one decoded YAML document.
type document struct {
	file string // base name
	obj  any    // one of the types above
}

// manifests is everything in this directory, decoded.
type manifests struct {
	docs       []document
	deployment *appsv1.Deployment
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	secret     *corev1.Secret
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	kust       *kustomization
	kustFile   string
}

// splitDocuments splits a YAML stream on its "---" separator lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(line, " \t\r\n"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// decodeStrict decodes one YAML document into v; duplicate keys, unknown
// fields and trailing data are errors.
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the document")
	}
	return nil
}

// decodeDocument decodes one document by its apiVersion and kind; nil, nil
// for a document with nothing but comments.
func decodeDocument(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, err
	}
	newObj, ok := types[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q: no type known to this test (add it to types)", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := decodeStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// loadDir decodes every *.yaml of dir.
func loadDir(dir string) (*manifests, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml in %s", dir)
	}
	m := &manifests{}
	one := func(file, what string, isSet bool) error {
		if isSet {
			return fmt.Errorf("%s: a second %s; this test expects exactly one", file, what)
		}
		return nil
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(f)
		for i, doc := range splitDocuments(data) {
			obj, err := decodeDocument(doc)
			if err != nil {
				return nil, fmt.Errorf("%s, document %d: %w", base, i+1, err)
			}
			if obj == nil {
				continue
			}
			m.docs = append(m.docs, document{file: base, obj: obj})
			switch o := obj.(type) {
			case *appsv1.Deployment:
				err = one(base, "Deployment", m.deployment != nil)
				m.deployment = o
			case *corev1.Service:
				err = one(base, "Service", m.service != nil)
				m.service = o
			case *corev1.ConfigMap:
				err = one(base, "ConfigMap", m.configMap != nil)
				m.configMap = o
			case *corev1.Secret:
				err = one(base, "Secret", m.secret != nil)
				m.secret = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				err = one(base, "HorizontalPodAutoscaler", m.hpa != nil)
				m.hpa = o
			case *policyv1.PodDisruptionBudget:
				err = one(base, "PodDisruptionBudget", m.pdb != nil)
				m.pdb = o
			case *kustomization:
				err = one(base, "Kustomization", m.kust != nil)
				m.kust, m.kustFile = o, base
			}
			if err != nil {
				return nil, err
			}
		}
	}
	var missing []string
	for what, isNil := range map[string]bool{
		"Deployment": m.deployment == nil, "Service": m.service == nil, "ConfigMap": m.configMap == nil,
		"Secret": m.secret == nil, "HorizontalPodAutoscaler": m.hpa == nil, "PodDisruptionBudget": m.pdb == nil,
		"Kustomization": m.kust == nil,
	} {
		if isNil {
			missing = append(missing, what)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no %s in %s", strings.Join(missing, ", "), dir)
	}
	return m, nil
}

func load(t tb) *manifests {
	t.Helper()
	m, err := loadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tb is the part of *testing.T the checks use, so that a test can run a
// check on a broken manifest and see it fail.
type tb interface {
	Helper()
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// recorder is a tb that keeps the failures instead of reporting them.
type recorder struct{ msgs []string }

func (r *recorder) Helper()           {}
func (r *recorder) Error(args ...any) { r.msgs = append(r.msgs, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }

// failures runs check against a recorder and returns what it reported.
func failures(check func(tb)) []string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.msgs
}

// container is the usersgraph container of the Deployment.
func (m *manifests) container(t tb) *corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("deployment %s: %d containers, want exactly 1", m.deployment.Name, len(cs))
	}
	return &cs[0]
}

// httpPort is the container's one TCP port: the one the server listens on.
func (m *manifests) httpPort(t tb) corev1.ContainerPort {
	t.Helper()
	c := m.container(t)
	if len(c.Ports) != 1 {
		t.Fatalf("container %s: %d ports, want exactly 1", c.Name, len(c.Ports))
	}
	p := c.Ports[0]
	if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
		t.Fatalf("container port %d: protocol %s, want TCP", p.ContainerPort, p.Protocol)
	}
	return p
}

// resolvePort turns a named or numbered port into the container's number;
// 0 if it names no port of the container.
func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// setting is one configuration variable the server reads.
type setting struct {
	name   string
	secret bool
}

// serverSettings parses the settings table of config.go: every
// `env: "NAME"`, and whether its line says `secret: true`.
func serverSettings(t tb) map[string]setting {
	t.Helper()
	src, err := os.ReadFile(configSource)
	if err != nil {
		t.Fatalf("reading the server's settings: %v", err)
	}
	re := regexp.MustCompile(`env:\s*"([A-Z][A-Z0-9_]*)"`)
	out := map[string]setting{}
	for _, line := range strings.Split(string(src), "\n") {
		if mm := re.FindStringSubmatch(line); mm != nil {
			out[mm[1]] = setting{name: mm[1], secret: regexp.MustCompile(`secret:\s*true`).MatchString(line)}
		}
	}
	if len(out) < 5 {
		t.Fatalf("%s: found only %d settings (env: \"NAME\"); has its format changed?", configSource, len(out))
	}
	return out
}

// drainSeconds is the server's shutdown grace, read from main.go.
func drainSeconds(t tb) int64 {
	t.Helper()
	src, err := os.ReadFile(mainSource)
	if err != nil {
		t.Fatal(err)
	}
	mm := regexp.MustCompile(`shutdownGrace\s*=\s*(\d+)\s*\*\s*time\.Second`).FindSubmatch(src)
	if mm == nil {
		t.Fatalf("%s: no `shutdownGrace = N * time.Second`; update drainSeconds to read the drain time", mainSource)
	}
	n, _ := strconv.ParseInt(string(mm[1]), 10, 64)
	return n
}

// podLabels is the label set of the Deployment's pods.
func (m *manifests) podLabels() labels.Set {
	return labels.Set(m.deployment.Spec.Template.Labels)
}

func checkMetadata(t tb, m *manifests) {
	seen := map[string]string{}
	for _, d := range m.docs {
		meta, ok := d.obj.(metav1.Object)
		if !ok {
			continue // the Kustomization
		}
		if meta.GetName() == "" {
			t.Errorf("%s: %T without metadata.name", d.file, d.obj)
		}
		if meta.GetNamespace() != "" {
			t.Errorf("%s: %s sets a namespace; leave it to kubectl -n or the kustomization", d.file, meta.GetName())
		}
		key := fmt.Sprintf("%T/%s", d.obj, meta.GetName())
		if prev, dup := seen[key]; dup {
			t.Errorf("%s and %s both define %s", prev, d.file, key)
		}
		seen[key] = d.file
		if got := meta.GetLabels()["app.kubernetes.io/name"]; got != "usersgraph" {
			t.Errorf("%s: %s has label app.kubernetes.io/name=%q, want usersgraph", d.file, meta.GetName(), got)
		}
	}
}

// The strict decoding itself must reject what it is there to reject.
func TestDecodeStrictRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":    "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  prots: []\n",
		"misplaced field":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          readinessProbe:\n            path: /readyz\n",
		"duplicate key":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  A: \"1\"\n  A: \"2\"\n",
		"wrong value type": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n",
		"unknown kind":     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
	} {
		if _, err := decodeDocument([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func checkKustomizationListsEveryManifest(t tb, m *manifests) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if f != m.kustFile {
			want = append(want, f)
		}
	}
	got := slices.Clone(m.kust.Resources)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s resources = %v, want every manifest file %v", m.kustFile, got, want)
	}
	image := m.container(t).Image
	for _, img := range m.kust.Images {
		if img.Name != imageName(image) {
			t.Errorf("%s: images entry %q matches no container image (the container uses %q)", m.kustFile, img.Name, image)
		}
	}
}

// imageName is an image reference without its tag or digest.
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func checkDeploymentProbes(t tb, m *manifests) {
	c := m.container(t)
	port := m.httpPort(t).ContainerPort
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no httpGet %s", p.name, p.path)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path {
			t.Errorf("%s: path %q, want %q", p.name, g.Path, p.path)
		}
		if got := resolvePort(c, g.Port); got != port {
			t.Errorf("%s: port %s is %d, want the container port %d", p.name, g.Port.String(), got, port)
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme %s, want HTTP", p.name, g.Scheme)
		}
		if p.probe.TimeoutSeconds < 1 || p.probe.PeriodSeconds < 1 {
			t.Errorf("%s: set timeoutSeconds and periodSeconds explicitly", p.name)
		}
	}
	// Startup-friendly: liveness must not kill a pod that is still
	// starting, so either a startup probe guards it or it waits.
	if c.StartupProbe == nil && c.LivenessProbe != nil && c.LivenessProbe.InitialDelaySeconds < 5 {
		t.Errorf("livenessProbe starts at once and no startupProbe guards it")
	}
}

func checkContainerPortMatchesConfigAndService(t tb, m *manifests) {
	c := m.container(t)
	port := m.httpPort(t)

	// LISTEN_ADDR (ConfigMap, else the server's default) is what the
	// server binds: it must be the container port.
	listen := m.configMap.Data["LISTEN_ADDR"]
	if listen == "" {
		listen = ":8080"
	}
	for _, e := range c.Env {
		if e.Name == "LISTEN_ADDR" {
			listen = e.Value
		}
	}
	_, p, err := net.SplitHostPort(listen)
	if err != nil || p != strconv.Itoa(int(port.ContainerPort)) {
		t.Errorf("LISTEN_ADDR %q does not listen on the container port %d", listen, port.ContainerPort)
	}

	// The Service: port 80 to the container port, selecting the pods.
	if len(m.service.Spec.Ports) != 1 {
		t.Fatalf("service %s: %d ports, want 1", m.service.Name, len(m.service.Spec.Ports))
	}
	sp := m.service.Spec.Ports[0]
	if sp.Port != 80 {
		t.Errorf("service port %d, want 80", sp.Port)
	}
	if got := resolvePort(c, sp.TargetPort); got != port.ContainerPort {
		t.Errorf("service targetPort %s is %d, want the container port %d", sp.TargetPort.String(), got, port.ContainerPort)
	}
	sel := m.service.Spec.Selector
	if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(m.podLabels()) {
		t.Errorf("service selector %v does not select the pods (labels %v)", sel, m.podLabels())
	}

	// Prometheus scrapes the same port.
	if a := m.deployment.Spec.Template.Annotations["prometheus.io/port"]; a != "" && a != strconv.Itoa(int(port.ContainerPort)) {
		t.Errorf("prometheus.io/port %q, want the container port %d", a, port.ContainerPort)
	}
}

func checkDeploymentSelector(t tb, m *manifests) {
	d := m.deployment
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		t.Fatalf("deployment selector %v: %v", d.Spec.Selector, err)
	}
	if !sel.Matches(m.podLabels()) {
		t.Errorf("deployment selector %v does not match its pod labels %v", sel, m.podLabels())
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("deployment replicas %v, want 2", d.Spec.Replicas)
	}
}

func checkResources(t tb, m *manifests) {
	c := m.container(t)
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || req.IsZero() {
			t.Errorf("no %s request", name)
		}
		if !okLim || lim.IsZero() {
			t.Errorf("no %s limit", name)
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			t.Errorf("%s request %s is above its limit %s", name, req.String(), lim.String())
		}
	}
	// Sized for a server of about 20 MiB RSS idle and 30-50 MiB busy.
	if lim, ok := r.Limits[corev1.ResourceMemory]; ok {
		if lim.Cmp(resource.MustParse("96Mi")) < 0 || lim.Cmp(resource.MustParse("1Gi")) > 0 {
			t.Errorf("memory limit %s: want between 96Mi (twice the busy RSS) and 1Gi", lim.String())
		}
		for _, e := range c.Env {
			if e.Name != "GOMEMLIMIT" {
				continue
			}
			if e.Value == "off" {
				continue
			}
			// Go writes 115MiB where Kubernetes writes 115Mi.
			q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
			if err != nil {
				t.Errorf("GOMEMLIMIT %q: %v", e.Value, err)
			} else if q.Cmp(lim) >= 0 {
				t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", e.Value, lim.String())
			}
		}
	}
	if req, ok := r.Requests[corev1.ResourceMemory]; ok && req.Cmp(resource.MustParse("32Mi")) < 0 {
		t.Errorf("memory request %s is below the idle RSS", req.String())
	}
}

func checkSecurityContext(t tb, m *manifests) {
	pod := m.deployment.Spec.Template.Spec
	c := m.container(t)
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		t.Fatal("container has no securityContext")
	}
	nonRoot := csc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		t.Error("runAsNonRoot is not true")
	}
	for _, uid := range []*int64{psc.RunAsUser, csc.RunAsUser} {
		if uid != nil && *uid == 0 {
			t.Error("runAsUser is 0")
		}
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Error("privileged")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Error("capabilities: want drop [ALL] and nothing added")
	}
	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false: the server needs no Kubernetes API")
	}
}

func checkSecretAndConfigMapAreReferenced(t tb, m *manifests) {
	c := m.container(t)
	settings := serverSettings(t)

	if len(m.secret.Data) > 0 {
		t.Errorf("secret %s: use stringData for the example, not data", m.secret.Name)
	}
	if _, ok := m.secret.StringData["COGNIGY_API_KEY"]; !ok {
		t.Errorf("secret %s has no COGNIGY_API_KEY", m.secret.Name)
	}

	fromSecret := map[string]bool{}   // keys of the Secret that reach the container
	fromConfig := false               // the ConfigMap reaches it whole
	configKeys := map[string]string{} // ConfigMap keys referenced one by one
	for _, ef := range c.EnvFrom {
		switch {
		case ef.SecretRef != nil:
			if ef.SecretRef.Name != m.secret.Name {
				t.Errorf("envFrom names secret %q; the manifest defines %q", ef.SecretRef.Name, m.secret.Name)
			}
			for k := range m.secret.StringData {
				fromSecret[k] = true
			}
		case ef.ConfigMapRef != nil:
			if ef.ConfigMapRef.Name != m.configMap.Name {
				t.Errorf("envFrom names configmap %q; the manifest defines %q", ef.ConfigMapRef.Name, m.configMap.Name)
			}
			if ef.Prefix != "" {
				t.Errorf("envFrom configmap with prefix %q: the server reads the plain names", ef.Prefix)
			}
			fromConfig = true
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			if ref.Name != m.secret.Name {
				t.Errorf("env %s: secret %q; the manifest defines %q", e.Name, ref.Name, m.secret.Name)
			}
			if _, ok := m.secret.StringData[ref.Key]; !ok {
				t.Errorf("env %s: key %q is not in secret %s", e.Name, ref.Key, m.secret.Name)
			}
			if e.Name != ref.Key {
				t.Errorf("env %s takes secret key %s: keep the names equal", e.Name, ref.Key)
			}
			fromSecret[ref.Key] = true
		}
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
			configKeys[ref.Key] = e.Name
		}
	}
	for k := range m.secret.StringData {
		if !fromSecret[k] {
			t.Errorf("secret key %s is not referenced by the deployment", k)
		}
		if s, ok := settings[k]; !ok {
			t.Errorf("secret key %s is not a setting of the server (%s)", k, configSource)
		} else if !s.secret {
			t.Errorf("secret key %s is not a secret setting: put it in the ConfigMap", k)
		}
	}
	if !fromConfig && len(configKeys) == 0 {
		t.Errorf("configmap %s is not referenced by the deployment", m.configMap.Name)
	}

	for k := range m.configMap.Data {
		s, ok := settings[k]
		switch {
		case !ok:
			t.Errorf("configmap key %s is not a setting of the server (%s)", k, configSource)
		case s.secret:
			t.Errorf("configmap key %s is a secret setting: put it in the Secret", k)
		}
	}
	if len(m.configMap.BinaryData) > 0 {
		t.Errorf("configmap %s has binaryData", m.configMap.Name)
	}
	// Every setting is documented in one of the two, with its default.
	for name, s := range settings {
		_, inConfig := m.configMap.Data[name]
		_, inSecret := m.secret.StringData[name]
		if !inConfig && !inSecret {
			where := "configmap.yaml"
			if s.secret {
				where = "secret.yaml"
			}
			t.Errorf("setting %s of the server is in neither the ConfigMap nor the Secret: add it to %s", name, where)
		}
	}
}

func checkHPATargetsDeployment(t tb, m *manifests) {
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != m.deployment.Name {
		t.Errorf("hpa scaleTargetRef %s %s/%s, want apps/v1 Deployment/%s", ref.APIVersion, ref.Kind, ref.Name, m.deployment.Name)
	}
	minR := int32(1)
	if m.hpa.Spec.MinReplicas != nil {
		minR = *m.hpa.Spec.MinReplicas
	}
	if minR < 2 || minR > m.hpa.Spec.MaxReplicas {
		t.Errorf("hpa replicas %d to %d: want a minimum of at least 2, below the maximum", minR, m.hpa.Spec.MaxReplicas)
	}
	if r := m.deployment.Spec.Replicas; r != nil && *r < minR {
		t.Errorf("deployment replicas %d below the hpa minimum %d", *r, minR)
	}
	cpu := false
	for _, mt := range m.hpa.Spec.Metrics {
		if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU {
			cpu = true
			if mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
				if u := mt.Resource.Target.AverageUtilization; u == nil || *u < 10 || *u > 100 {
					t.Errorf("hpa cpu averageUtilization %v, want 10-100", u)
				}
				if _, ok := m.container(t).Resources.Requests[corev1.ResourceCPU]; !ok {
					t.Error("hpa scales on cpu utilization but the container requests no cpu")
				}
			}
		}
	}
	if !cpu {
		t.Error("hpa has no cpu resource metric")
	}
}

func checkPDBSelectsPods(t tb, m *manifests) {
	sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
	if err != nil || sel.Empty() {
		t.Fatalf("pdb selector %v: %v", m.pdb.Spec.Selector, err)
	}
	if !sel.Matches(m.podLabels()) {
		t.Errorf("pdb selector %v does not match the pod labels %v", sel, m.podLabels())
	}
	ma := m.pdb.Spec.MinAvailable
	if ma == nil || ma.Type != intstr.Int || ma.IntVal != 1 {
		t.Errorf("pdb minAvailable %v, want 1", ma)
	}
	if m.pdb.Spec.MaxUnavailable != nil {
		t.Error("pdb sets both minAvailable and maxUnavailable")
	}
	// A budget that needs every pod blocks node drains for good.
	if r := m.deployment.Spec.Replicas; ma != nil && r != nil && ma.Type == intstr.Int && ma.IntVal >= *r {
		t.Errorf("pdb minAvailable %d leaves no pod of %d evictable", ma.IntVal, *r)
	}
}

func checkGracefulShutdownFits(t tb, m *manifests) {
	pod := m.deployment.Spec.Template.Spec
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	drain := drainSeconds(t)
	var preStop int64
	if lc := m.container(t).Lifecycle; lc != nil && lc.PreStop != nil {
		switch {
		case lc.PreStop.Sleep != nil:
			preStop = lc.PreStop.Sleep.Seconds
		case lc.PreStop.Exec != nil:
			t.Error("preStop exec: the image has no shell or sleep binary")
		}
	}
	// The grace period counts from the start of preStop; the drain starts
	// after it, and the last trace spans take up to 5 s more.
	const flush = 5
	if grace <= drain {
		t.Errorf("terminationGracePeriodSeconds %d is not above the server's %d s drain", grace, drain)
	}
	if need := preStop + drain + flush; grace < need {
		t.Errorf("terminationGracePeriodSeconds %d < preStop %d s + drain %d s + span flush %d s", grace, preStop, drain, flush)
	}
	if time.Duration(preStop)*time.Second > 30*time.Second {
		t.Errorf("preStop sleep of %d s delays every rollout", preStop)
	}
}

// manifestChecks are the properties the deployment relies on.
var manifestChecks = []struct {
	name  string
	check func(tb, *manifests)
}{
	{"metadata", checkMetadata},
	{"kustomization", checkKustomizationListsEveryManifest},
	{"probes", checkDeploymentProbes},
	{"ports", checkContainerPortMatchesConfigAndService},
	{"selector", checkDeploymentSelector},
	{"resources", checkResources},
	{"security", checkSecurityContext},
	{"references", checkSecretAndConfigMapAreReferenced},
	{"hpa", checkHPATargetsDeployment},
	{"pdb", checkPDBSelectsPods},
	{"shutdown", checkGracefulShutdownFits},
}

func TestManifests(t *testing.T) {
	m := load(t)
	for _, c := range manifestChecks {
		t.Run(c.name, func(t *testing.T) { c.check(t, m) })
	}
}

// TestManifestChecksFail breaks the manifests one property at a time, in
// memory, and expects the check of that property to fail: a check that
// cannot fail checks nothing.
func TestManifestChecksFail(t *testing.T) {
	ptr := func(b bool) *bool { return &b }
	breaks := []struct {
		name, check string
		breakIt     func(m *manifests, c *corev1.Container)
	}{
		{"readiness on /healthz", "probes", func(m *manifests, c *corev1.Container) { c.ReadinessProbe.HTTPGet.Path = "/healthz" }},
		{"liveness on /readyz", "probes", func(m *manifests, c *corev1.Container) { c.LivenessProbe.HTTPGet.Path = "/readyz" }},
		{"liveness on another port", "probes", func(m *manifests, c *corev1.Container) { c.LivenessProbe.HTTPGet.Port = intstr.FromInt32(9090) }},
		{"readiness on a port name that does not exist", "probes", func(m *manifests, c *corev1.Container) { c.ReadinessProbe.HTTPGet.Port = intstr.FromString("web") }},
		{"no readiness probe", "probes", func(m *manifests, c *corev1.Container) { c.ReadinessProbe = nil }},
		{"container port not LISTEN_ADDR", "ports", func(m *manifests, c *corev1.Container) { c.Ports[0].ContainerPort = 8081 }},
		{"service targetPort elsewhere", "ports", func(m *manifests, c *corev1.Container) {
			m.service.Spec.Ports[0].TargetPort = intstr.FromInt32(9090)
		}},
		{"service port not 80", "ports", func(m *manifests, c *corev1.Container) { m.service.Spec.Ports[0].Port = 8080 }},
		{"service selects nothing", "ports", func(m *manifests, c *corev1.Container) {
			m.service.Spec.Selector = map[string]string{"app.kubernetes.io/name": "other"}
		}},
		{"deployment selector misses its pods", "selector", func(m *manifests, c *corev1.Container) {
			m.deployment.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
		}},
		{"no limits", "resources", func(m *manifests, c *corev1.Container) { c.Resources.Limits = nil }},
		{"no memory request", "resources", func(m *manifests, c *corev1.Container) { delete(c.Resources.Requests, corev1.ResourceMemory) }},
		{"GOMEMLIMIT above the limit", "resources", func(m *manifests, c *corev1.Container) {
			c.Env = append(c.Env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: "1GiB"})
		}},
		{"runAsNonRoot false", "security", func(m *manifests, c *corev1.Container) {
			c.SecurityContext.RunAsNonRoot = ptr(false)
		}},
		{"runAsNonRoot unset", "security", func(m *manifests, c *corev1.Container) {
			c.SecurityContext.RunAsNonRoot = nil
			m.deployment.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}},
		{"writable root filesystem", "security", func(m *manifests, c *corev1.Container) { c.SecurityContext.ReadOnlyRootFilesystem = ptr(false) }},
		{"privilege escalation", "security", func(m *manifests, c *corev1.Container) { c.SecurityContext.AllowPrivilegeEscalation = nil }},
		{"capabilities kept", "security", func(m *manifests, c *corev1.Container) { c.SecurityContext.Capabilities = nil }},
		{"no seccomp profile", "security", func(m *manifests, c *corev1.Container) {
			c.SecurityContext.SeccompProfile = nil
			m.deployment.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		}},
		{"API key not referenced", "references", func(m *manifests, c *corev1.Container) {
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "COGNIGY_API_KEY" })
		}},
		{"secretKeyRef to another secret", "references", func(m *manifests, c *corev1.Container) {
			for i := range c.Env {
				if r := c.Env[i].ValueFrom; r != nil && r.SecretKeyRef != nil {
					r.SecretKeyRef.Name = "other"
				}
			}
		}},
		{"configmap not referenced", "references", func(m *manifests, c *corev1.Container) { c.EnvFrom = nil }},
		{"unknown setting in the configmap", "references", func(m *manifests, c *corev1.Container) { m.configMap.Data["LISTEN_PORT"] = "8080" }},
		{"secret setting in the configmap", "references", func(m *manifests, c *corev1.Container) { m.configMap.Data["COGNIGY_API_KEY"] = "x" }},
		{"a setting missing", "references", func(m *manifests, c *corev1.Container) { delete(m.configMap.Data, "MAX_DEPTH") }},
		{"hpa targets another deployment", "hpa", func(m *manifests, c *corev1.Container) { m.hpa.Spec.ScaleTargetRef.Name = "other" }},
		{"hpa targets a statefulset", "hpa", func(m *manifests, c *corev1.Container) { m.hpa.Spec.ScaleTargetRef.Kind = "StatefulSet" }},
		{"hpa without cpu", "hpa", func(m *manifests, c *corev1.Container) { m.hpa.Spec.Metrics = nil }},
		{"pdb selects nothing", "pdb", func(m *manifests, c *corev1.Container) {
			m.pdb.Spec.Selector.MatchLabels = map[string]string{"app.kubernetes.io/name": "other"}
		}},
		{"pdb blocks drains", "pdb", func(m *manifests, c *corev1.Container) {
			v := intstr.FromInt32(2)
			m.pdb.Spec.MinAvailable = &v
		}},
		{"grace not above the drain", "shutdown", func(m *manifests, c *corev1.Container) {
			g := int64(15)
			m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}},
		{"grace eaten by preStop", "shutdown", func(m *manifests, c *corev1.Container) { c.Lifecycle.PreStop.Sleep.Seconds = 20 }},
		{"kustomization misses a file", "kustomization", func(m *manifests, c *corev1.Container) {
			m.kust.Resources = slices.DeleteFunc(m.kust.Resources, func(s string) bool { return s == "pdb.yaml" })
		}},
		{"kustomization sets another image", "kustomization", func(m *manifests, c *corev1.Container) {
			c.Image = "registry.example.com:5000/team/other:1.0"
		}},
		{"kustomization lists a missing file", "kustomization", func(m *manifests, c *corev1.Container) {
			m.kust.Resources = append(m.kust.Resources, "ingress.yaml")
		}},
		{"namespace hard-coded", "metadata", func(m *manifests, c *corev1.Container) { m.service.Namespace = "prod" }},
	}
	checks := map[string]func(tb, *manifests){}
	for _, c := range manifestChecks {
		checks[c.name] = c.check
	}
	// The manifests as they are pass every check.
	for name, check := range checks {
		if msgs := failures(func(r tb) { check(r, load(r)) }); len(msgs) > 0 {
			t.Fatalf("check %s fails on the unbroken manifests: %v", name, msgs)
		}
	}
	for _, b := range breaks {
		check, ok := checks[b.check]
		if !ok {
			t.Fatalf("%s: no check %q", b.name, b.check)
		}
		msgs := failures(func(r tb) {
			m := load(r)
			b.breakIt(m, m.container(r))
			check(r, m)
		})
		if len(msgs) == 0 {
			t.Errorf("%s: check %s passed", b.name, b.check)
		} else {
			t.Logf("%s: %s", b.name, msgs[0])
		}
	}
}
