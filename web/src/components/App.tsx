/** The root: the login screen, or the chat once logged in. */
import { useAppState } from '../store/store'
import { ChatShell } from './ChatShell'
import { LoginScreen } from './LoginScreen'

export function App() {
  const signedIn = useAppState((s) => s.session !== null)
  return signedIn ? <ChatShell /> : <LoginScreen />
}
