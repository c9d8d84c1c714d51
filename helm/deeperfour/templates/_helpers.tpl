{{/*
Names, labels, images and the few decisions every template shares.
*/}}

{{- define "deeperfour.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-deeperfour, or just <release> when it already contains the chart name. */}}
{{- define "deeperfour.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: (dict "ctx" $ "component" "colorizer") */}}
{{- define "deeperfour.componentName" -}}
{{- printf "%s-%s" (include "deeperfour.fullname" .ctx) .component -}}
{{- end -}}

{{- define "deeperfour.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{/* Labels that never change for a component (Deployment selectors). */}}
{{- define "deeperfour.selectorLabels" -}}
app.kubernetes.io/name: {{ include "deeperfour.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "deeperfour.labels" -}}
{{ include "deeperfour.selectorLabels" . }}
app.kubernetes.io/part-of: deeperfour
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "deeperfour.chart" .ctx }}
{{- end -}}

{{/* Selects every pod of this release (NetworkPolicy peers). */}}
{{- define "deeperfour.releasePodSelector" -}}
app.kubernetes.io/name: {{ include "deeperfour.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* registry/repository:tag or @digest; tag defaults to the chart's appVersion: (dict "ctx" $ "image" .Values.x.image) */}}
{{- define "deeperfour.image" -}}
{{- $registry := default .image.registry .ctx.Values.global.imageRegistry -}}
{{- $ref := printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- if .image.digest -}}{{- $ref = printf "%s@%s" .image.repository .image.digest -}}{{- end -}}
{{- if $registry -}}{{- printf "%s/%s" $registry $ref -}}{{- else -}}{{- $ref -}}{{- end -}}
{{- end -}}

{{- define "deeperfour.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "deeperfour.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "deeperfour.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ---- the two external-or-built-in choices: every template asks these helpers, never the values ---- */}}

{{/* host:port[,host:port] of Kafka: the built-in broker's Service or externalKafka. */}}
{{- define "deeperfour.kafka.bootstrapServers" -}}
{{- if .Values.kafka.enabled -}}
{{- printf "%s-kafka.%s.svc:9092" (include "deeperfour.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.externalKafka.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{/* host:port of S3: the built-in MinIO's Service or externalS3. */}}
{{- define "deeperfour.s3.endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s-minio.%s.svc:9000" (include "deeperfour.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.externalS3.endpoint -}}
{{- end -}}
{{- end -}}

{{- define "deeperfour.s3.secure" -}}
{{- if .Values.minio.enabled -}}false{{- else -}}{{- .Values.externalS3.secure | toString -}}{{- end -}}
{{- end -}}

{{- define "deeperfour.credentialsSecretName" -}}
{{- default (printf "%s-credentials" (include "deeperfour.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/* Kafka and S3 settings every DeeperFour container reads. */}}
{{- define "deeperfour.commonEnv" -}}
- name: DEEPERFOUR_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "deeperfour.kafka.bootstrapServers" . | quote }}
- name: DEEPERFOUR_S3_ENDPOINT
  value: {{ include "deeperfour.s3.endpoint" . | quote }}
- name: DEEPERFOUR_S3_SECURE
  value: {{ include "deeperfour.s3.secure" . | quote }}
- name: DEEPERFOUR_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: DEEPERFOUR_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "deeperfour.credentialsSecretName" . }}
      key: {{ .Values.credentials.s3AccessKeyKey }}
- name: DEEPERFOUR_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "deeperfour.credentialsSecretName" . }}
      key: {{ .Values.credentials.s3SecretKeyKey }}
{{- end -}}

{{/* host:7070 of a model server's Service, for the orchestrator. */}}
{{- define "deeperfour.modelServerAddr" -}}
{{- printf "%s:7070" (include "deeperfour.componentName" .) -}}
{{- end -}}

{{/* The pipeline stages whose model server is enabled, in order: "colorize,stabilize,cartoonize". */}}
{{- define "deeperfour.enabledStages" -}}
{{- $stages := list -}}
{{- range $m := list "colorizer" "stabilizer" "cartoonizer" -}}
{{- if (index $.Values $m).enabled -}}{{- $stages = append $stages (trimSuffix "r" $m) -}}{{- end -}}
{{- end -}}
{{- join "," $stages -}}
{{- end -}}

{{/* Resources of a component with its GPUs added as the nvidia.com/gpu limit: (dict "ctx" $ "values" .Values.colorizer) */}}
{{- define "deeperfour.resources" -}}
{{- $res := deepCopy (default dict .values.resources) -}}
{{- if gt (int .values.gpus) 0 -}}
{{- $limits := deepCopy (default dict $res.limits) -}}
{{- $_ := set $limits "nvidia.com/gpu" (int .values.gpus) -}}
{{- $_ := set $res "limits" $limits -}}
{{- end -}}
{{- toYaml $res -}}
{{- end -}}

{{/* Pod-level security: non-root, default seccomp profile. */}}
{{- define "deeperfour.podSecurityContext" -}}
runAsNonRoot: true
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security: read-only root filesystem, no privilege escalation, no capabilities. */}}
{{- define "deeperfour.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Scheduling block of a pod: (dict "values" .Values.x) */}}
{{- define "deeperfour.scheduling" -}}
{{- $s := dict -}}
{{- with .values.nodeSelector }}{{ $_ := set $s "nodeSelector" . }}{{ end -}}
{{- with .values.tolerations }}{{ $_ := set $s "tolerations" . }}{{ end -}}
{{- with .values.affinity }}{{ $_ := set $s "affinity" . }}{{ end -}}
{{- if $s }}{{ toYaml $s }}{{ end -}}
{{- end -}}

{{/* True ("true") when a component is scaled by an HPA or a KEDA ScaledObject, so its Deployment leaves replicas alone. */}}
{{- define "deeperfour.autoscaled" -}}
{{- $keda := and .ctx.Values.keda.enabled (has .component (list "orchestrator" "colorizer" "stabilizer" "cartoonizer")) -}}
{{- if or .values.autoscaling.enabled $keda -}}true{{- end -}}
{{- end -}}

{{/* Every message the chart refuses to render with; NOTES.txt and the credentials Secret call it. */}}
{{- define "deeperfour.validateValues" -}}
{{- $msgs := list -}}
{{- if and (not .Values.kafka.enabled) (not .Values.externalKafka.bootstrapServers) -}}
{{- $msgs = append $msgs "kafka.enabled=false needs externalKafka.bootstrapServers (host:port)" -}}
{{- end -}}
{{- if and (not .Values.minio.enabled) (not .Values.externalS3.endpoint) -}}
{{- $msgs = append $msgs "minio.enabled=false needs externalS3.endpoint (host:port)" -}}
{{- end -}}
{{- if and (not .Values.minio.enabled) (not .Values.credentials.existingSecret) -}}
{{- $msgs = append $msgs (printf "externalS3 needs credentials.existingSecret: a Secret with keys %s, %s and %s" .Values.credentials.s3AccessKeyKey .Values.credentials.s3SecretKeyKey .Values.credentials.gatewayTokenKey) -}}
{{- end -}}
{{- if not (or .Values.colorizer.enabled .Values.stabilizer.enabled .Values.cartoonizer.enabled) -}}
{{- $msgs = append $msgs "enable at least one model server (colorizer, stabilizer or cartoonizer)" -}}
{{- end -}}
{{- range $c := list "gateway" "orchestrator" "colorizer" "stabilizer" "cartoonizer" -}}
{{- $a := (index $.Values $c).autoscaling -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- $msgs = append $msgs (printf "%s.autoscaling.minReplicas (%d) is above maxReplicas (%d)" $c (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.enabled (gt (int .Values.topics.replicationFactor) 1) -}}
{{- $msgs = append $msgs "the built-in Kafka has one broker: topics.replicationFactor must be 1" -}}
{{- end -}}
{{- if $msgs -}}
{{- fail (printf "\n\nVALUES ERROR:\n  - %s\n" (join "\n  - " $msgs)) -}}
{{- end -}}
{{- end -}}
