{{/* Names and labels shared by the templates. */}}

{{- define "pkgindex.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: the release name when it already says
pkgindex, so "helm install pkgindex" does not make pkgindex-pkgindex.
*/}}
{{- define "pkgindex.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pkgindex.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pkgindex.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pkgindex.labels" -}}
{{ include "pkgindex.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pkgindex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pkgindex.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pkgindex.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The namespace the operator watches; empty means all. */}}
{{- define "pkgindex.watchNamespace" -}}
{{- if eq .Values.rbac.scope "namespace" }}
{{- default .Release.Namespace .Values.rbac.watchNamespace }}
{{- end }}
{{- end }}

{{/*
The rules of the first object of a kind in a file under files/, copied by
make chart-sync from config/rbac: the operator's ClusterRole and lease
Role that make manifests generates from the markers in controllers/, and
the editor and viewer roles. The chart thus never grants less or more than
the kustomize install.
usage: include "pkgindex.rules" (list . "files/role.yaml" "ClusterRole")
*/}}
{{- define "pkgindex.rules" -}}
{{- $ctx := index . 0 }}
{{- $kind := index . 2 }}
{{- $done := false }}
{{- range $doc := regexSplit "(?m)^---\\s*$" ($ctx.Files.Get (index . 1)) -1 }}
{{- $obj := fromYaml $doc }}
{{- if and (not $done) (eq (get $obj "kind") $kind) }}
{{- toYaml (get $obj "rules") }}
{{- $done = true }}
{{- end }}
{{- end }}
{{- end }}
