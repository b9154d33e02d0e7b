import { CssBaseline, ThemeProvider, createTheme } from '@mui/material';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { BackendStatusBanner } from './components/BackendStatusBanner';

const theme = createTheme({
  palette: { mode: 'light', primary: { main: '#3d5afe' }, secondary: { main: '#00897b' } },
  typography: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <App />
      <BackendStatusBanner />
    </ThemeProvider>
  </StrictMode>,
);
