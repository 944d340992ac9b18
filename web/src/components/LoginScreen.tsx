/** Sign up or log in: one form, two buttons, errors in plain words. */
import { useState } from 'preact/hooks'
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function LoginScreen() {
  const actions = useActions()
  const error = useAppState((s) => s.authError)
  const busy = useAppState((s) => s.busy)
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')

  const submit = (signingUp: boolean) => (e: Event) => {
    e.preventDefault()
    if (busy) return
    void (signingUp ? actions.signup(username, password) : actions.login(username, password))
  }

  return (
    <main class="login">
      <form class="login__card" onSubmit={submit(false)} aria-labelledby="login-title" noValidate>
        <div class="login__logo"><Icon name="chat" size={40} /></div>
        <h1 id="login-title">Chat</h1>
        <p class="login__lead">Talk with friends and groups, on any device.</p>
        <label class="field">
          <span>Username</span>
          <input data-testid="username" name="username" autocomplete="username" autocapitalize="none" spellcheck={false}
            value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span>Password</span>
          <input data-testid="password" name="password" type="password" autocomplete="current-password"
            value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        <p class="login__hint">New here? Pick a username (3 to 32 lowercase letters, digits or _) and a password of 8 characters or more, then sign up.</p>
        {error !== null && <p class="login__error" role="alert">{error}</p>}
        <div class="login__buttons">
          <button data-testid="login" type="submit" class="button button--primary" disabled={busy}>Log in</button>
          <button data-testid="signup" type="button" class="button button--secondary" disabled={busy} onClick={submit(true)}>Sign up</button>
        </div>
      </form>
    </main>
  )
}
