{{/* Names and labels. */}}
{{- define "huikuan.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "huikuan.labels" -}}
app.kubernetes.io/name: huikuan
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one workload: (dict "root" $ "name" $name). */}}
{{- define "huikuan.selector" -}}
app.kubernetes.io/name: huikuan
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* The image of a service: (dict "root" $ "service" "ledger"). */}}
{{- define "huikuan.image" -}}
{{- $images := .root.Values.images -}}
{{- $repo := index $images .service -}}
{{- $tag := default .root.Chart.AppVersion $images.tag -}}
{{- if $images.registry -}}
{{- printf "%s/%s:%s" $images.registry $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* The environment every container of a service gets: (dict "root" $ "service" "ledger"). */}}
{{- define "huikuan.env" -}}
{{- $v := .root.Values -}}
{{- $secret := $v.secrets.existingSecret -}}
{{- $databaseUrl := $v.secrets.keys.databaseUrl -}}
{{- with $v.secrets.keys.serviceDatabaseUrls }}{{ $databaseUrl = default $databaseUrl (index . $.service) }}{{ end -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $databaseUrl }}}}
- name: HUIKUAN_INTERNAL_TOKEN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $v.secrets.keys.internalToken }}}}
{{- if $v.config.kafkaSaslMechanism }}
- name: KAFKA_SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $v.secrets.keys.kafkaSaslPassword }}}}
{{- end }}
{{- if eq .service "gateway" }}
- name: GATEWAY_OPERATOR_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $v.secrets.keys.operatorKey }}}}
- name: GATEWAY_LEDGER_URL
  value: {{ printf "http://%s-ledger-api:8001" (include "huikuan.fullname" .root) | quote }}
- name: GATEWAY_CREDIT_URL
  value: {{ printf "http://%s-credit-api:8002" (include "huikuan.fullname" .root) | quote }}
- name: GATEWAY_REMINDERS_URL
  value: {{ printf "http://%s-reminders-api:8003" (include "huikuan.fullname" .root) | quote }}
{{- end }}
{{- if eq .service "reminders" }}
- name: REMINDERS_WEBHOOK_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $v.secrets.keys.webhookSecret }}}}
{{- if $v.secrets.keys.smtpPassword }}
- name: REMINDERS_SMTP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $v.secrets.keys.smtpPassword }}}}
{{- end }}
{{- end }}
{{- end -}}

{{/* The plain settings every process reads: the ConfigMap's data, and the migration Jobs' own copy. */}}
{{- define "huikuan.configData" -}}
HUIKUAN_ENV: production
KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
KAFKA_SECURITY_PROTOCOL: {{ .Values.config.kafkaSecurityProtocol | quote }}
{{- if .Values.config.kafkaSaslMechanism }}
KAFKA_SASL_MECHANISM: {{ .Values.config.kafkaSaslMechanism | quote }}
KAFKA_SASL_USERNAME: {{ .Values.config.kafkaSaslUsername | quote }}
{{- end }}
{{- if .Values.config.kafkaTopicPrefix }}
KAFKA_TOPIC_PREFIX: {{ .Values.config.kafkaTopicPrefix | quote }}
{{- end }}
{{- if .Values.config.kafkaCaSecret }}
KAFKA_SSL_CAFILE: /etc/huikuan/kafka-ca/ca.crt
{{- end }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
{{- range $name := list "ledger" "credit" "reminders" "gateway" }}
{{ upper $name }}_HOST: "0.0.0.0"
{{ upper $name }}_HEALTH_PORT: {{ $.Values.healthPort | quote }}
{{- end }}
{{- if .Values.config.smtpHost }}
REMINDERS_SMTP_HOST: {{ .Values.config.smtpHost | quote }}
REMINDERS_SMTP_PORT: {{ .Values.config.smtpPort | quote }}
REMINDERS_SMTP_START_TLS: {{ .Values.config.smtpStartTls | quote }}
{{- end }}
REMINDERS_MAIL_FROM: {{ .Values.config.mailFrom | quote }}
{{- range $key, $value := .Values.config.extraEnv }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}
