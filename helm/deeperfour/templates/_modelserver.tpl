{{/*
One TorchServe model server (colorizer, stabilizer or cartoonizer): its Deployment and Service.
Called with (dict "ctx" $ "component" "colorizer"); the TorchServe model name is the component name.
*/}}

{{- define "deeperfour.modelServer.deployment" -}}
{{- $ := .ctx -}}
{{- $c := .component -}}
{{- $v := index $.Values $c -}}
{{- $args := dict "ctx" $ "component" $c "values" $v -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "deeperfour.componentName" . }}
  labels:
    {{- include "deeperfour.labels" . | nindent 4 }}
spec:
  {{- if not (include "deeperfour.autoscaled" $args) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "deeperfour.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "deeperfour.labels" . | nindent 8 }}
      annotations:
        checksum/torchserve-config: {{ include (print $.Template.BasePath "/torchserve-configmap.yaml") $ | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "deeperfour.serviceAccountName" $ }}
      automountServiceAccountToken: false
      {{- with include "deeperfour.imagePullSecrets" $ }}{{ . | nindent 6 }}{{ end }}
      securityContext:
        {{- include "deeperfour.podSecurityContext" $ | nindent 8 }}
      {{- with include "deeperfour.scheduling" $args }}{{ . | nindent 6 }}{{ end }}
      containers:
        - name: {{ $c }}
          image: {{ include "deeperfour.image" (dict "ctx" $ "image" $v.image) | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            - torchserve
            - --start
            - --foreground
            - --ncs
            - --ts-config
            - /home/model-server/config.properties
            - --model-store
            - /home/model-server/model-store
          args:
            - --models
            - {{ printf "%s=%s.mar" $c $c }}
          # 8080: REST inference, for the kubelet's probes only (in no Service); management 8081 and metrics 8082
          # listen on the pod's loopback (the ConfigMap), out of reach of anything outside the container.
          ports:
            - name: http
              containerPort: 8080
            - name: grpc
              containerPort: 7070
          env:
            {{- include "deeperfour.commonEnv" $ | nindent 12 }}
            - name: TS_DEFAULT_WORKERS_PER_MODEL
              value: {{ $v.workers | quote }}
            - name: TS_NUMBER_OF_GPU
              value: {{ $v.gpus | quote }}
            - name: DEEPERFOUR_PRECISION
              value: {{ $.Values.torchserve.precision | quote }}
            - name: DEEPERFOUR_THREADS
              value: {{ $.Values.torchserve.threads | quote }}
            # Writable places on a read-only root filesystem (emptyDir volumes below).
            - name: TEMP
              value: /home/model-server/tmp
            - name: TMPDIR
              value: /home/model-server/tmp
            - name: LOG_LOCATION
              value: /home/model-server/logs
            - name: METRICS_LOCATION
              value: /home/model-server/logs
            - name: HOME
              value: /home/model-server/tmp
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # Loading a model (and its CUDA context) takes a while: up to 10 minutes before liveness starts.
          startupProbe:
            httpGet:
              path: /ping
              port: http
            periodSeconds: 10
            failureThreshold: 60
          readinessProbe:
            httpGet:
              path: /ping
              port: http
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: /ping
              port: http
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- include "deeperfour.resources" $args | nindent 12 }}
          securityContext:
            {{- include "deeperfour.containerSecurityContext" $ | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /home/model-server/config.properties
              subPath: config.properties
              readOnly: true
            - name: ts-tmp
              mountPath: /home/model-server/tmp
            - name: ts-logs
              mountPath: /home/model-server/logs
            - name: tmp
              mountPath: /tmp
            - name: dshm
              mountPath: /dev/shm
      volumes:
        - name: config
          configMap:
            name: {{ include "deeperfour.fullname" $ }}-torchserve
        - name: ts-tmp
          emptyDir: {}
        - name: ts-logs
          emptyDir:
            sizeLimit: 1Gi
        - name: tmp
          emptyDir: {}
        - name: dshm
          emptyDir:
            medium: Memory
            sizeLimit: 1Gi
{{- end -}}

{{- define "deeperfour.modelServer.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "deeperfour.componentName" . }}
  labels:
    {{- include "deeperfour.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "deeperfour.selectorLabels" . | nindent 4 }}
  ports:
    # the inference API the orchestrator calls, and nothing else
    - name: grpc
      port: 7070
      targetPort: grpc
      appProtocol: grpc
{{- end -}}
