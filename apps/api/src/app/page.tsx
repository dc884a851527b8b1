export default function Home() {
  return (
    <main>
      <h1>Superset API</h1>
      <p>tRPC at /api/trpc, auth at /api/auth, health at /api/health.</p>
    </main>
  );
}
