import type { AppInfo } from '@contract/contract';
import { Alert, Card, CardContent, Stack, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { CopyLink } from '../components/CopyLink';
import { InputProbe, SteerPanel } from '../components/InputWorkbench';
import { AnalysisSelect } from '../components/AnalysisSelect';
import { useAnalysis } from '../hooks/useAnalysis';
import { navigate, useRoute } from '../lib/router';

/**
 * The Playground (#/playground/<analysisId>): your own image and prompt through the model with an
 * analysis's SAE; its top features, one feature on every patch and token, and steering from it.
 */
export function PlaygroundPage(_props: { info: AppInfo }) {
  const route = useRoute();
  const analysisId = route.ids[0] ?? null;
  const { loaded, done, analysis, modelId, datasetId } = useAnalysis(analysisId);
  const [feature, setFeature] = useState<number | null>(null);
  useEffect(() => {
    if (analysisId === null && done.length > 0) navigate('playground', [done[0]!.id], { replace: true });
  }, [analysisId, done]);
  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} alignItems="center" flexWrap="wrap" useFlexGap>
        <Typography variant="h5" component="h2">
          Playground
        </Typography>
        <AnalysisSelect
          label="Analysis (SAE)"
          analyses={done}
          value={analysis?.id ?? null}
          onChange={(id) => {
            setFeature(null);
            navigate('playground', [id]);
          }}
        />
        {analysis && <CopyLink page="playground" ids={[analysis.id]} />}
      </Stack>
      {loaded && !analysis && (
        <Alert severity="info">
          {analysisId !== null ? `There is no finished analysis #${analysisId}.` : 'No finished analysis yet.'} The Playground runs an
          analysed SAE with its model.
        </Alert>
      )}
      {analysis && (
        <>
          <Card variant="outlined">
            <CardContent>
              <Typography variant="subtitle1" component="h3" sx={{ mb: 1 }}>
                Test your input{feature !== null ? `: feature ${feature}` : ''}
              </Typography>
              <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
                Drop an image and write a prompt: the model runs with the SAE; pick one of the input's top features to see it on every patch
                and token.
              </Typography>
              <InputProbe analysisId={analysis.id} feature={feature} scale={null} onPickFeature={setFeature} />
            </CardContent>
          </Card>
          {feature !== null && (
            <Card variant="outlined">
              <CardContent>
                <Typography variant="subtitle1" component="h3" sx={{ mb: 1 }}>
                  Steer from feature {feature}
                </Typography>
                <SteerPanel analysisId={analysis.id} feature={feature} modelId={modelId} datasetId={datasetId} />
              </CardContent>
            </Card>
          )}
        </>
      )}
    </Stack>
  );
}
